# SPDX-License-Identifier: MIT
# Installs the public headers, both libraries (libctxlog-otlp: otlp/), the CMake package
# (find_package(ctxlog) -> ctxlog::ctxlog, ctxlog::ctxlog_static), ctxlog.pc,
# the man pages and the valgrind suppressions (share/ctxlog/ctxlog.supp).
# Nothing else.
include(CMakePackageConfigHelpers)

# otlp.h goes with libctxlog-otlp (otlp/CMakeLists.txt), when it is built.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ctxlog
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "otlp.h" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/include/ctxlog/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ctxlog)

set_target_properties(ctxlog_static PROPERTIES EXPORT_NAME ctxlog_static)
install(TARGETS ctxlog ctxlog_static EXPORT ctxlogTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(CTXLOG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ctxlog)
install(EXPORT ctxlogTargets NAMESPACE ctxlog:: DESTINATION ${CTXLOG_CMAKE_DIR})
configure_package_config_file(cmake/ctxlogConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ctxlogConfig.cmake INSTALL_DESTINATION ${CTXLOG_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ctxlogConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ctxlogConfig.cmake
              ${PROJECT_BINARY_DIR}/ctxlogConfigVersion.cmake
        DESTINATION ${CTXLOG_CMAKE_DIR})

# Relocatable: the prefix is found from where ctxlog.pc itself lies.
file(RELATIVE_PATH CTXLOG_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
configure_file(cmake/ctxlog.pc.in ${PROJECT_BINARY_DIR}/ctxlog.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ctxlog.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# For valgrind --suppressions: what the library keeps until exit.
install(FILES ${PROJECT_SOURCE_DIR}/share/ctxlog.supp
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ctxlog)
install(FILES ${PROJECT_SOURCE_DIR}/man/ctxlog.3 ${PROJECT_SOURCE_DIR}/man/ctx.3
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
install(FILES ${PROJECT_SOURCE_DIR}/man/ctxlog-config.5
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
