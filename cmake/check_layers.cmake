# Fails when a file of a folder of src/ includes a header of another folder
# that the folder's surge_library()/surge_layer() does not list in DEPENDS.
#
#   cmake -DSOURCE_ROOT=<src> -DLAYERS=<layers.txt> -P check_layers.cmake
#
# layers.txt has one line per folder: "<folder>=<dep>,<dep>,...". A quoted
# include's folder is the longest declared folder its path starts with
# ("frontends/http/x.hpp" belongs to frontends/http, "config/x.pb.h" to
# config); includes that start with no declared folder (the public ABI
# "surge/backend.h", a file beside the includer) are not checked. A folder of
# src/ that holds sources but is declared nowhere is an error too; a
# subfolder that is not declared belongs to the folder above it.
cmake_minimum_required(VERSION 3.25)

file(STRINGS "${LAYERS}" lines)
set(folders "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^=]+)=(.*)$")
    set(folder "${CMAKE_MATCH_1}")
    string(REPLACE "," ";" deps "${CMAKE_MATCH_2}")
    list(APPEND folders "${folder}")
    string(MAKE_C_IDENTIFIER "${folder}" key)
    set(allowed_${key} "${folder};${deps}")
  endif()
endforeach()

set(problems "")
file(GLOB_RECURSE files RELATIVE "${SOURCE_ROOT}" "${SOURCE_ROOT}/*.cpp" "${SOURCE_ROOT}/*.hpp" "${SOURCE_ROOT}/*.h")
foreach(file IN LISTS files)
  get_filename_component(directory "${file}" DIRECTORY)
  if(directory STREQUAL "" OR file MATCHES "(^|/)\\.")
    continue()
  endif()
  # A file belongs to the deepest declared folder above it.
  set(folder "${directory}")
  list(FIND folders "${folder}" declared)
  while(declared EQUAL -1 AND NOT folder STREQUAL "")
    get_filename_component(folder "${folder}" DIRECTORY)
    list(FIND folders "${folder}" declared)
  endwhile()
  if(declared EQUAL -1)
    list(APPEND problems "src/${file}: folder src/${directory} has no surge_library() in src/CMakeLists.txt")
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "${folder}" key)
  file(STRINGS "${SOURCE_ROOT}/${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+\"")
  foreach(include IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*$" "\\1" path "${include}")
    # The longest declared folder that the path starts with.
    get_filename_component(candidate "${path}" DIRECTORY)
    set(target "")
    while(NOT candidate STREQUAL "")
      list(FIND folders "${candidate}" found)
      if(NOT found EQUAL -1)
        set(target "${candidate}")
        break()
      endif()
      get_filename_component(candidate "${candidate}" DIRECTORY)
    endwhile()
    if(target STREQUAL "")
      continue()
    endif()
    list(FIND allowed_${key} "${target}" permitted)
    if(permitted EQUAL -1)
      list(JOIN allowed_${key} " " allowed_text)
      list(APPEND problems
           "src/${file} includes \"${path}\" (folder ${target}), but ${folder} may include only: ${allowed_text}")
    endif()
  endforeach()
endforeach()

if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "Forbidden include between folders (declare the dependency in src/CMakeLists.txt "
                      "if it is intended, or move the code to the layer it belongs to):\n  ${text}")
endif()
