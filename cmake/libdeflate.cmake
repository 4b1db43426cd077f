# libdeflate (Debian's libdeflate-dev) as the imported target libdeflate::libdeflate: Debian's
# 1.14 ships no CMake package of its own. Included by segkit's build, its fuzzing build and the
# installed package's configuration (a consumer of the static library links it too); leaves
# the target undefined where libdeflate is missing.
if(NOT TARGET libdeflate::libdeflate)
  find_path(LIBDEFLATE_INCLUDE_DIR libdeflate.h)
  find_library(LIBDEFLATE_LIBRARY NAMES deflate)
  if(LIBDEFLATE_INCLUDE_DIR AND LIBDEFLATE_LIBRARY)
    add_library(libdeflate::libdeflate UNKNOWN IMPORTED)
    set_target_properties(libdeflate::libdeflate PROPERTIES IMPORTED_LOCATION "${LIBDEFLATE_LIBRARY}"
                                                            INTERFACE_INCLUDE_DIRECTORIES "${LIBDEFLATE_INCLUDE_DIR}")
  endif()
endif()
