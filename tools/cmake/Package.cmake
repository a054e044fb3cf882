# What `cmake --install` puts where, and the .deb CPack makes of it.
# Man pages and bash completion are generated from the binaries' own
# command trees (--generate), so they say what --help says.

set(gen ${PROJECT_BINARY_DIR}/generated)
add_custom_command(
  OUTPUT ${gen}/xlbctl.8.gz ${gen}/xlbd.8.gz ${gen}/xlbctl.bash
  COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
  COMMAND sh -c "$<TARGET_FILE:xlbctl> --generate man | gzip -9n > ${gen}/xlbctl.8.gz"
  COMMAND sh -c "$<TARGET_FILE:xlbd> --generate man | gzip -9n > ${gen}/xlbd.8.gz"
  COMMAND sh -c "$<TARGET_FILE:xlbctl> --generate bash-completion > ${gen}/xlbctl.bash"
  DEPENDS xlbctl xlbd
  COMMENT "man pages and bash completion"
  VERBATIM)
add_custom_target(xlb_docs ALL DEPENDS ${gen}/xlbctl.8.gz ${gen}/xlbd.8.gz ${gen}/xlbctl.bash)

install(TARGETS xlbd xlbctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${gen}/xlbctl.8.gz ${gen}/xlbd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${gen}/xlbctl.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME xlbctl)
install(FILES ${PROJECT_SOURCE_DIR}/tools/systemd/xlbd.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/examples/olam-cluster.yaml
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/xlb RENAME xlb.yaml.example)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xlb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "xlb developers <xlb@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XDP load balancer for HTTP(S) control-node clusters")
set(CPACK_PACKAGE_DESCRIPTION
    "xlb spreads TCP connections for virtual IPs over backends with an XDP program (Maglev hashing,
direct server return by MAC rewrite or IPIP). xlbd health-checks the backends, keeps the data plane
in step with them and serves a control socket and Prometheus metrics; xlbctl manages it.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries' own libraries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "xdp-tools")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/xlb/xlb.yaml.example\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles)
# Package with -DCMAKE_INSTALL_PREFIX=/usr (then the example lands in /etc/xlb).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
