# The Debian package, built by CPack from the install rules of the dev tree (scripts/package.sh,
# `cpack --preset deb`): build/dev/package/cvgen_<version>_<arch>.deb with the CLI, the static
# libraries, the headers, the CMake package files and cvgen.pc, everything under /usr. The dev
# tree's binaries are the release build the tests ran against (-O2, no debug info).
set(CVGEN_PACKAGE_MAINTAINER "cvgen maintainers <maintainers@example.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cvgen)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/package")
# Whatever prefix the tree was configured with (the dev preset's is build/install), the package
# installs under /usr. DESTDIR staging: the install steps see CMAKE_INSTALL_PREFIX=/usr, so
# cvgen.pc is written for /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # cvgen_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CVGEN_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION graphics)
# The control file's description: the summary, then this text (CPack indents it; an empty line
# becomes the " ." paragraph separator).
set(CPACK_PACKAGE_DESCRIPTION "Expand (outpaint) an image to an exact target canvas, generate,
omni-image and upscale through the Kling and Ideogram image APIs and their
aggregators, with an offline engine; a folder batch runner with resume and
shards, and a local emulator of the providers' wire protocol (cvgen serve).

This package holds the cvgen command-line tool, the C++ libraries (static
archives, position-independent), their headers, the CMake package
(find_package(cvgen)) and cvgen.pc (pkg-config). Building against the
libraries needs the development packages it recommends.")
# Depends: computed by dpkg-shlibdeps from the binaries (the CLI's OpenCV, libcurl, OpenSSL,
# cpp-httplib… runtime libraries), never listed by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Building against the static libraries needs the development packages of what they use
# (cvgenConfig.cmake finds them; cvgen.pc requires them). Not needed to run the CLI, hence not
# Depends.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "libopencv-dev (>= 4.6), libturbojpeg0-dev, libcurl4-openssl-dev, libssl-dev, libcpp-httplib-dev, pkg-config")

include(CPack)
