include(GNUInstallDirs)
# cvgen_warnings(<target>): the project's warning set; errors when CVGEN_WERROR is on.
function(cvgen_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(CVGEN_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()

if(CVGEN_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
    # GCC 12's flow analysis under -fsanitize reports false -Wmaybe-uninitialized inside
    # libstdc++ (std::regex, std::function); the normal build keeps the warning as an error.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        add_compile_options(-Wno-maybe-uninitialized)
    endif()
endif()

# Build-time levers (CI builds everything twice, the second time under ASan, on 2 cores):
# - CVGEN_PRECOMPILE_HEADERS: the test binaries precompile GoogleTest, OpenCV and the standard
#   headers they all parse (~1.3 s of parsing per test source under ASan), the CLI precompiles
#   CLI11 (cvgen_app_build_levers below); in sanitizer builds the module libraries precompile
#   OpenCV too. Release builds of the libraries keep plain includes,
#   so a public header that forgets an include still fails there.
# - CVGEN_SKIP_TEST_BINARIES: test binaries (names given to cvgen_module_tests) that are not built
#   by default nor registered with ctest: the asan preset lists those whose label its test preset
#   excludes anyway (reliability), so they are not compiled under ASan for nothing.
option(CVGEN_PRECOMPILE_HEADERS
       "Precompile the heavy third-party headers (tests, CLI; libraries in sanitizer builds)" ON)
set(CVGEN_SKIP_TEST_BINARIES "" CACHE STRING
    "cvgen_module_tests names not built by default nor registered with ctest (;-list)")

set(CVGEN_PCH_TEST_HEADERS <gtest/gtest.h> <gmock/gmock.h> <opencv2/core.hpp>
    <opencv2/imgproc.hpp> <opencv2/imgcodecs.hpp> <string> <vector> <map> <memory> <functional>
    <sstream> <fstream> <chrono> <thread>)
set(CVGEN_PCH_MODULE_HEADERS <opencv2/core.hpp> <opencv2/imgproc.hpp> <string> <vector>
    <memory> <functional> <algorithm> <sstream>)

# cvgen_define_module(<name> [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One module = one folder = one library cvgen_<name> with alias cvgen::<name>. Sources are every
# src/*.cpp of the module; public headers live in include/cvgen/.
function(cvgen_define_module name)
    cmake_parse_arguments(M "" "" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
    file(GLOB srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp")
    add_library(cvgen_${name} STATIC ${srcs})
    add_library(cvgen::${name} ALIAS cvgen_${name})
    set_target_properties(cvgen_${name} PROPERTIES
        EXPORT_NAME ${name}
        POSITION_INDEPENDENT_CODE ON)
    target_include_directories(cvgen_${name} PUBLIC
        $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
        $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_include_directories(cvgen_${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
    target_link_libraries(cvgen_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    cvgen_warnings(cvgen_${name})
    if(CVGEN_PRECOMPILE_HEADERS AND CVGEN_SANITIZE)
        target_precompile_headers(cvgen_${name} PRIVATE ${CVGEN_PCH_MODULE_HEADERS})
    endif()
    install(TARGETS cvgen_${name} EXPORT cvgenTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# cvgen_module_tests(<name> [NO_MODULE] [DEPS ...]): one test binary per module from
# tests/<name>/test_*.cpp. NO_MODULE: <name> is not a module (cross-module tests), link DEPS only.
function(cvgen_module_tests name)
    cmake_parse_arguments(T "NO_MODULE" "" "DEPS" ${ARGN})
    file(GLOB srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${name}/test_*.cpp")
    add_executable(test_${name} ${srcs})
    if(NOT T_NO_MODULE)
        target_link_libraries(test_${name} PRIVATE cvgen::${name})
    endif()
    target_link_libraries(test_${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock
                          GTest::gtest_main Threads::Threads)
    target_include_directories(test_${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
    target_compile_definitions(test_${name} PRIVATE
        CVGEN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
        CVGEN_SAMPLES_DATA="${PROJECT_SOURCE_DIR}/samples/data"
        CVGEN_CLI_PATH="$<$<TARGET_EXISTS:cvgen>:$<TARGET_FILE:cvgen>>")
    cvgen_warnings(test_${name})
    if(CVGEN_PRECOMPILE_HEADERS)
        target_precompile_headers(test_${name} PRIVATE ${CVGEN_PCH_TEST_HEADERS})
    endif()
    if(name IN_LIST CVGEN_SKIP_TEST_BINARIES)
        set_target_properties(test_${name} PROPERTIES EXCLUDE_FROM_ALL ON)
        return()
    endif()
    gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${name})
endfunction()

# cvgen_app_build_levers(<target>): the CLI's build-time levers. Every command source includes
# CLI11 (header-only: ~2 s of parsing, and ~8 s of code generation under ASan at -O1, per source).
# CVGEN_PRECOMPILE_HEADERS precompiles it; sanitizer builds compile the CLI's own sources at -O0
# (ASan and UBSan check the same there; the libraries doing the pixel work keep their -O1).
function(cvgen_app_build_levers target)
    if(CVGEN_PRECOMPILE_HEADERS)
        target_precompile_headers(${target} PRIVATE <CLI/CLI.hpp> <opencv2/core.hpp> <string>
                                  <vector> <memory> <functional> <iostream> <sstream> <chrono>)
    endif()
    if(CVGEN_SANITIZE)
        target_compile_options(${target} PRIVATE -O0)
    endif()
endfunction()
