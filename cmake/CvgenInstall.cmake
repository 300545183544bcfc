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
