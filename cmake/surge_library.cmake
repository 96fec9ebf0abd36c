# surge_library(<folder> [DEPENDS <folder>...] [LIBRARIES <target>...])
#
# Declares the static library surge_<folder> (a '/' becomes '_'): the .cpp
# files of src/<folder> and of its subfolders that are not libraries of
# their own, linked to the libraries of the folders it DEPENDS on and to the
# third-party LIBRARIES. The DEPENDS list is also the folder's include rule:
# cmake/check_layers.cmake fails the build when a file of the folder
# includes a header of a folder that is not listed (see surge_layer_check).
# The libraries are made by surge_make_libraries(), once every folder is
# declared, so that a folder knows which of its subfolders are its own.
function(surge_library folder)
  cmake_parse_arguments(arg "" "" "DEPENDS;LIBRARIES" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY SURGE_LIBRARY_FOLDERS ${folder})
  set_property(GLOBAL PROPERTY SURGE_LIBRARY_${folder}_DEPENDS ${arg_DEPENDS})
  set_property(GLOBAL PROPERTY SURGE_LIBRARY_${folder}_LIBRARIES ${arg_LIBRARIES})
  surge_layer(${folder} DEPENDS ${arg_DEPENDS})
endfunction()

function(surge_make_libraries source_root)
  get_property(folders GLOBAL PROPERTY SURGE_LIBRARY_FOLDERS)
  get_property(layers GLOBAL PROPERTY SURGE_LAYERS)
  set(declared "")
  foreach(layer IN LISTS layers)
    string(REGEX REPLACE "=.*$" "" name "${layer}")
    list(APPEND declared ${name})
  endforeach()
  foreach(folder IN LISTS folders)
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS RELATIVE ${source_root} ${source_root}/${folder}/*.cpp)
    set(own "")
    foreach(source IN LISTS sources)
      # Skip files of a deeper folder that is declared on its own.
      get_filename_component(directory ${source} DIRECTORY)
      set(owner "")
      while(NOT directory STREQUAL "" AND owner STREQUAL "")
        if(directory IN_LIST declared)
          set(owner ${directory})
        endif()
        get_filename_component(directory ${directory} DIRECTORY)
      endwhile()
      if(owner STREQUAL folder)
        list(APPEND own ${source_root}/${source})
      endif()
    endforeach()
    surge_target_name(target ${folder})
    add_library(${target} STATIC ${own})
    target_compile_options(${target} PRIVATE ${surge_warnings})
    get_property(libraries GLOBAL PROPERTY SURGE_LIBRARY_${folder}_LIBRARIES)
    target_link_libraries(${target} PUBLIC surge_build_settings ${libraries})
    get_property(dependencies GLOBAL PROPERTY SURGE_LIBRARY_${folder}_DEPENDS)
    foreach(dependency IN LISTS dependencies)
      surge_target_name(dependency_target ${dependency})
      target_link_libraries(${target} PUBLIC ${dependency_target})
    endforeach()
    add_dependencies(${target} surge_layer_check)
  endforeach()
endfunction()

# Declares a folder's allowed includes without making a library of it (the
# folder holding main()).
function(surge_layer folder)
  cmake_parse_arguments(arg "" "" "DEPENDS" ${ARGN})
  list(JOIN arg_DEPENDS "," joined)
  set_property(GLOBAL APPEND PROPERTY SURGE_LAYERS "${folder}=${joined}")
endfunction()

function(surge_target_name out folder)
  string(REPLACE "/" "_" name "${folder}")
  set(${out} surge_${name} PARENT_SCOPE)
endfunction()

# Writes the declared layers to <build>/layers.txt and checks every source
# file of src/ against them whenever one changes. Call once, after the last
# surge_library.
function(surge_add_layer_check source_root)
  get_property(layers GLOBAL PROPERTY SURGE_LAYERS)
  list(JOIN layers "\n" text)
  file(WRITE ${CMAKE_BINARY_DIR}/layers.txt.new "${text}\n")
  file(COPY_FILE ${CMAKE_BINARY_DIR}/layers.txt.new ${CMAKE_BINARY_DIR}/layers.txt ONLY_IF_DIFFERENT)
  file(GLOB_RECURSE checked CONFIGURE_DEPENDS ${source_root}/*.cpp ${source_root}/*.hpp ${source_root}/*.h)
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/layers.checked
    COMMAND ${CMAKE_COMMAND} -DSOURCE_ROOT=${source_root} -DLAYERS=${CMAKE_BINARY_DIR}/layers.txt
            -P ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
    COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/layers.checked
    DEPENDS ${checked} ${CMAKE_BINARY_DIR}/layers.txt ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
    COMMENT "Checking that each folder of src/ includes only the folders it depends on"
    VERBATIM)
  add_custom_target(surge_layer_check ALL DEPENDS ${CMAKE_BINARY_DIR}/layers.checked)
endfunction()
