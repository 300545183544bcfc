include(CMakePackageConfigHelpers)
set(CVGEN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cvgen)
install(EXPORT cvgenTargets NAMESPACE cvgen:: DESTINATION ${CVGEN_CMAKE_DIR})
configure_package_config_file(cmake/cvgenConfig.cmake.in
    "${CMAKE_CURRENT_BINARY_DIR}/cvgenConfig.cmake" INSTALL_DESTINATION ${CVGEN_CMAKE_DIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/cvgenConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/cvgenConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/cvgenConfigVersion.cmake"
        DESTINATION ${CVGEN_CMAKE_DIR})

# --- cvgen.pc (pkg-config) --------------------------------------------------------------------
# One file for every built module, as opencv4.pc is for OpenCV. The prefix is the one given at
# install time (`cmake --install … --prefix P`, or /usr when CPack builds the Debian package), so
# the template is configured now with a placeholder and completed by an install(CODE) step.
set(CVGEN_PC_LIBS "")
set(CVGEN_PC_LIBS_PRIVATE "")
foreach(m stages emulator remote local core)  # dependents first: static link order
    if(TARGET cvgen_${m})
        string(APPEND CVGEN_PC_LIBS " -lcvgen_${m}")
    endif()
endforeach()
if(TARGET cvgen_emulator)
    string(APPEND CVGEN_PC_LIBS_PRIVATE " -lcpp-httplib")
endif()
if(TARGET cvgen_remote)
    string(APPEND CVGEN_PC_LIBS_PRIVATE " -lcurl")
endif()
# OpenSSL's libcrypto: core (HMAC), remote and the emulator.
string(APPEND CVGEN_PC_LIBS_PRIVATE " -lssl -lcrypto")
set(CVGEN_PC_PREFIX "@CVGEN_INSTALL_PREFIX@")
foreach(d LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
        set(CVGEN_PC_${d} "${CMAKE_INSTALL_${d}}")
    else()
        set(CVGEN_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
    endif()
endforeach()
configure_file(cmake/cvgen.pc.in "${CMAKE_CURRENT_BINARY_DIR}/cvgen.pc.in" @ONLY)
install(CODE "
    set(CVGEN_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${CMAKE_CURRENT_BINARY_DIR}/cvgen.pc.in\"
                   \"${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/cvgen.pc\" @ONLY)")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/cvgen.pc"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# --- the Debian package (cpack --preset deb, scripts/package.sh) --------------------------------
include(CvgenPackage)
