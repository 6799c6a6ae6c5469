# The installed package as a C++ user meets it (issue 14, item 8). Run by CTest as
#   cmake -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… -DCXX=… [-DLAUNCHER=…] -DSHARED=ON|OFF
#         -DGENERATOR=… -P check_install.cmake
# 1. `cmake --install BUILD_DIR --prefix WORK_DIR/prefix` (a temporary prefix; the package must
#    find everything relative to itself);
# 2. the installed layout: public headers only, the libraries, the CLI, the CMake package and
#    cellar.pc; libcellar.so exports cellar's public API and none of its internals;
# 3. examples/tutorial (the tutorial's C++ walk) built against the prefix with
#    find_package(cellar CONFIG) and with pkg-config, static and shared, each run in a fresh
#    folder and required to print exactly "[]" and "(1, 10)".
cmake_minimum_required(VERSION 3.22)
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX SHARED GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_install.cmake: -D${var}=… is required")
  endif()
endforeach()

function(run)
  cmake_parse_arguments(R "" "WORKING_DIRECTORY;OUTPUT" "COMMAND" ${ARGN})
  if(NOT R_WORKING_DIRECTORY)
    set(R_WORKING_DIRECTORY ${WORK_DIR})
  endif()
  execute_process(COMMAND ${R_COMMAND} WORKING_DIRECTORY ${R_WORKING_DIRECTORY}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN R_COMMAND " " shown)
    message(FATAL_ERROR "failed (${rc}): ${shown}\n${out}\n${err}")
  endif()
  if(R_OUTPUT)
    set(${R_OUTPUT} "${out}" PARENT_SCOPE)
  endif()
endfunction()

# The tutorial prints the parameters left unloaded and the GraphCell output's shape.
function(check_tutorial exe label)
  set(dir ${WORK_DIR}/run-${label})
  file(MAKE_DIRECTORY ${dir})
  run(COMMAND ${exe} WORKING_DIRECTORY ${dir} OUTPUT out)
  if(NOT out STREQUAL "[]\n(1, 10)\n")
    message(FATAL_ERROR "${label}: the tutorial printed\n${out}\ninstead of \"[]\" and \"(1, 10)\"")
  endif()
  if(NOT EXISTS ${dir}/model.ckpt OR NOT EXISTS ${dir}/model.mindir)
    message(FATAL_ERROR "${label}: model.ckpt and model.mindir were not written in ${dir}")
  endif()
  # BLAS and libcrypto are opened with dlopen when first needed, never linked: a consumer's link
  # line (the package's dependencies) must not name them.
  execute_process(COMMAND readelf -d ${exe} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR dynamic MATCHES "NEEDED[^\n]*(blas|libcrypto)")
    message(FATAL_ERROR "${label}: the tutorial links BLAS or libcrypto, which libcellar opens "
                        "lazily (readelf -d):\n${dynamic}")
  endif()
  message(STATUS "${label}: [] and (1, 10)")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# 2. The layout.
file(GLOB_RECURSE pc_files ${prefix}/*/cellar.pc)
file(GLOB_RECURSE config_files ${prefix}/*/cellarConfig.cmake)
file(GLOB_RECURSE static_libs ${prefix}/*/libcellar.a)
list(LENGTH pc_files n_pc)
list(LENGTH config_files n_config)
list(LENGTH static_libs n_static)
if(NOT n_pc EQUAL 1 OR NOT n_config EQUAL 1 OR NOT n_static EQUAL 1)
  message(FATAL_ERROR "expected one each of cellar.pc, cellarConfig.cmake and libcellar.a under "
                      "${prefix}: ${pc_files} | ${config_files} | ${static_libs}")
endif()
get_filename_component(libdir ${static_libs} DIRECTORY)
foreach(header cellar/cellar.h cellar/version.h cellar/visibility.h cellar/nn/graph_cell.h)
  if(NOT EXISTS ${prefix}/include/${header})
    message(FATAL_ERROR "${header} is not installed in ${prefix}/include")
  endif()
endforeach()
# Public headers only: every installed header includes nothing but the standard library and
# other installed cellar headers. And every header that declares anything exports it: its
# declarations sit between CELLAR_API_BEGIN and CELLAR_API_END (include/cellar/visibility.h),
# without which libcellar.so would hide them.
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(header ${headers})
  if(NOT header MATCHES "^cellar/(cellar|version|visibility)\\.h$")
    file(STRINGS ${prefix}/include/${header} api REGEX "^CELLAR_API_(BEGIN|END)$")
    if(NOT api STREQUAL "CELLAR_API_BEGIN;CELLAR_API_END")
      message(FATAL_ERROR "${header} does not wrap its declarations in CELLAR_API_BEGIN and "
                          "CELLAR_API_END (include/cellar/visibility.h): libcellar.so would "
                          "hide them")
    endif()
  endif()
  file(STRINGS ${prefix}/include/${header} includes REGEX "^#include \"")
  foreach(line ${includes})
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
    if(NOT EXISTS ${prefix}/include/${included})
      message(FATAL_ERROR "installed ${header} includes ${included}, which is not installed")
    endif()
  endforeach()
endforeach()
run(COMMAND ${prefix}/bin/cellar --version OUTPUT version)
if(NOT version MATCHES "[0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "the installed cellar --version printed '${version}'")
endif()

if(SHARED)
  if(NOT EXISTS ${libdir}/libcellar.so)
    message(FATAL_ERROR "built with CELLAR_SHARED=ON but ${libdir}/libcellar.so is not installed")
  endif()
  # Exported: the public API (a class, a free function, an error type's typeinfo). Hidden: the
  # format readers (cellar::formats), the op table's rows, and the dependencies' own symbols.
  run(COMMAND nm -D -C --defined-only ${libdir}/libcellar.so OUTPUT symbols)
  foreach(wanted "cellar::load_checkpoint(" "cellar::nn::GraphCell::GraphCell(" "typeinfo for cellar::Error")
    string(FIND "${symbols}" "${wanted}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "libcellar.so does not export ${wanted}")
    endif()
  endforeach()
  string(REGEX MATCHALL "[^\n]*(cellar::formats::|google::protobuf::|onnx::|mind_ir::|nlohmann::)[^\n]*"
         leaked "${symbols}")
  if(leaked)
    list(SUBLIST leaked 0 10 shown)
    list(JOIN shown "\n" shown)
    message(FATAL_ERROR "libcellar.so exports internals, e.g.:\n${shown}")
  endif()
endif()

# 3a. CMake: find_package(cellar CONFIG).
set(variants static)
if(SHARED)
  list(APPEND variants shared)
endif()
set(launcher_arg)
if(LAUNCHER)
  set(launcher_arg -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
foreach(variant ${variants})
  if(variant STREQUAL "static")
    set(use_static ON)
  else()
    set(use_static OFF)
  endif()
  set(build ${WORK_DIR}/cmake-${variant})
  run(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/tutorial -B ${build} -G ${GENERATOR}
              -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
              -DCMAKE_CXX_COMPILER=${CXX} ${launcher_arg} -Dcellar_USE_STATIC_LIBS=${use_static})
  run(COMMAND ${CMAKE_COMMAND} --build ${build})
  run(COMMAND readelf -d ${build}/tutorial OUTPUT dynamic)
  if(variant STREQUAL "shared" AND NOT dynamic MATCHES "libcellar\\.so")
    message(FATAL_ERROR "cmake-shared: the tutorial does not link libcellar.so:\n${dynamic}")
  elseif(variant STREQUAL "static" AND dynamic MATCHES "libcellar\\.so")
    message(FATAL_ERROR "cmake-static: the tutorial links libcellar.so:\n${dynamic}")
  endif()
  check_tutorial(${build}/tutorial cmake-${variant})
endforeach()

# 3b. pkg-config: `pkg-config --cflags --libs cellar` for the shared library and
# `--static` (Libs.private, Requires.private) with libcellar.a named explicitly for the static one.
find_program(PKG_CONFIG pkg-config REQUIRED)
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
foreach(variant ${variants})
  if(variant STREQUAL "static")
    run(COMMAND ${PKG_CONFIG} --cflags --libs --static cellar OUTPUT flags)
    string(REPLACE "-lcellar " "-l:libcellar.a " flags "${flags} ")
  else()
    run(COMMAND ${PKG_CONFIG} --cflags --libs cellar OUTPUT flags)
    string(APPEND flags " -Wl,-rpath,${libdir}")
  endif()
  string(STRIP "${flags}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(exe ${WORK_DIR}/pkgconfig-${variant})
  run(COMMAND ${LAUNCHER} ${CXX} -std=c++20 -O1 ${SOURCE_DIR}/examples/tutorial/tutorial.cpp
              -o ${exe} ${flags})
  check_tutorial(${exe} pkgconfig-${variant})
endforeach()
