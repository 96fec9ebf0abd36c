# surge_library(<folder> [DEPENDS <folder>...] [LIBRARIES <target>...])
#
# Builds src/<folder>/*.cpp into the static library surge_<folder> (a '/'
# becomes '_'), linked to the libraries of the folders it DEPENDS on and to
# the third-party LIBRARIES. The DEPENDS list is also the folder's include
# rule: cmake/check_layers.cmake fails the build when a file of the folder
# includes a header of a folder that is not listed (see surge_layer_check).
function(surge_library folder)
  cmake_parse_arguments(arg "" "" "DEPENDS;LIBRARIES" ${ARGN})
  surge_target_name(target ${folder})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${folder}/*.cpp)
  add_library(${target} STATIC ${sources})
  target_compile_options(${target} PRIVATE ${surge_warnings})
  target_link_libraries(${target} PUBLIC surge_build_settings ${arg_LIBRARIES})
  foreach(dependency IN LISTS arg_DEPENDS)
    surge_target_name(dependency_target ${dependency})
    target_link_libraries(${target} PUBLIC ${dependency_target})
  endforeach()
  surge_layer(${folder} DEPENDS ${arg_DEPENDS})
  add_dependencies(${target} surge_layer_check)
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
