# Run by `cmake --install` (install(CODE) in CMakeLists.txt): writes the
# systemd units with ExecStart= in the bin directory of the prefix being
# installed to, which `cmake --install --prefix P` may change after
# configuring.  Set by the caller: ORCH_SRC, ORCH_UNITDIR, ORCH_BINDIR_REL.
if(IS_ABSOLUTE "${ORCH_BINDIR_REL}")
  set(ORCH_BINDIR "${ORCH_BINDIR_REL}")
else()
  set(ORCH_BINDIR "${CMAKE_INSTALL_PREFIX}/${ORCH_BINDIR_REL}")
endif()
if(IS_ABSOLUTE "${ORCH_UNITDIR}")
  set(dir "$ENV{DESTDIR}${ORCH_UNITDIR}")
else()
  set(dir "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${ORCH_UNITDIR}")
endif()
foreach(unit orch-manager orch-agent)
  message(STATUS "Installing: ${dir}/${unit}.service")
  configure_file("${ORCH_SRC}/dist/systemd/${unit}.service.in"
                 "${dir}/${unit}.service" @ONLY)
endforeach()
