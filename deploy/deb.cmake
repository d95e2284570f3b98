# Debian packages with CPack's DEB generator: deploy/build-debs.sh builds
# them. Dependencies come from dpkg-shlibdeps; maintainer scripts in
# deploy/deb/COMPONENT enable the units without starting them, and purge
# removes what remove keeps (config and state).
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent server cli)
set(CPACK_PACKAGE_NAME aioctl)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "aioctl developers <aioctl@example.invalid>")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/aioctl")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME aioctl-agent)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "Linux AIO limit agent for KVM hypervisors\n\
aio-agent samples fs.aio-nr and fs.aio-max-nr, attributes AIO contexts to\n\
VMs, watches the libvirt and QEMU logs for AIO errors and applies limit\n\
changes from aio-server within its own bounds. Its guard, installed as\n\
libvirt's qemu hook, refuses or makes room for a VM start that would fail.")
# /bin/kill for ExecReload=; the linked libraries come from
# dpkg-shlibdeps, the two loaded when first needed are named here
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "procps, libsystemd0, libxml2")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "aioctl, libvirt-daemon-system")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/deploy/deb/agent/conffiles;${CMAKE_SOURCE_DIR}/deploy/deb/agent/postinst;${CMAKE_SOURCE_DIR}/deploy/deb/agent/prerm;${CMAKE_SOURCE_DIR}/deploy/deb/agent/postrm")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME aioctl-server)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "Linux AIO limit server for a fleet of KVM hypervisors\n\
aio-server keeps the history the agents report in SQLite, evaluates alerts,\n\
serves Prometheus metrics and runs fleet-wide fs.aio-max-nr rollouts with\n\
canaries, batches, soak gates and rollback.")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "procps, libsystemd0")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS aioctl)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/deploy/deb/server/conffiles;${CMAKE_SOURCE_DIR}/deploy/deb/server/postinst;${CMAKE_SOURCE_DIR}/deploy/deb/server/prerm;${CMAKE_SOURCE_DIR}/deploy/deb/server/postrm")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME aioctl)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "console for a fleet's Linux AIO limits\n\
aioctl talks to aio-server: fleet status and room, each host's AIO users\n\
and errors, history and capacity reports, and fs.aio-max-nr rollouts.")

include(CPack)
