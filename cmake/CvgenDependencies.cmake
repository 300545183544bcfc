# All third-party packages come from Debian (scripts/setup.sh installs them).
find_package(OpenCV 4.6 REQUIRED COMPONENTS core imgproc imgcodecs photo)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto SSL)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
# cpp-httplib is a compiled library on Debian; its compile definitions (OpenSSL support) come
# through pkg-config and must match the library.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
# libjpeg-turbo's TurboJPEG API: core decodes JPEG straight to BGR with it (OpenCV 4.6 swaps
# RGB to BGR in a scalar loop, about a third of a JPEG decode).
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET GLOBAL libturbojpeg)

# RapidJSON only sets an include directory: wrap it in a target. Used privately (never in public
# headers), so it is linked as $<BUILD_INTERFACE:...> and never exported.
find_package(RapidJSON REQUIRED)
if(NOT TARGET cvgen_rapidjson)
    add_library(cvgen_rapidjson INTERFACE)
    target_include_directories(cvgen_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
    target_compile_definitions(cvgen_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)
endif()

if(CVGEN_BUILD_APPS)
    find_package(CLI11 CONFIG REQUIRED)
endif()
if(CVGEN_BUILD_TESTS)
    find_package(GTest REQUIRED)
    include(GoogleTest)
endif()
if(CVGEN_BUILD_BENCH)
    find_package(benchmark REQUIRED)
endif()
