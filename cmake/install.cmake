include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS subq EXPORT subqTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/subq
  FILE_SET generated_headers DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/subq)
install(EXPORT subqTargets NAMESPACE subq:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/subq)
configure_package_config_file(cmake/subqConfig.cmake.in ${PROJECT_BINARY_DIR}/subqConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/subq)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/subqConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/subqConfig.cmake ${PROJECT_BINARY_DIR}/subqConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/subq)
