# The version the programs print (--version, their first log line):
# PROJECT_VERSION, plus the git commit when the source is a git checkout
# with git installed ("0.1.0 (git abc1234)"; uncommitted changes are
# not marked: editing a file does not make CMake configure again).  A source tarball (Debian's build) has neither: "0.1.0".
# -DORCH_GIT_REV=abc1234 sets the commit by hand (a packager's build).
#
# Read at configure time; a commit or checkout makes CMake configure
# again (CMAKE_CONFIGURE_DEPENDS on git's HEAD and its log), so that a
# build never prints a stale commit.  Only version.c recompiles.
set(ORCH_GIT_REV "" CACHE STRING "git commit shown by --version (default: from git)")
set(orch_rev "${ORCH_GIT_REV}")
if(orch_rev STREQUAL "")
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --short=7 HEAD
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      OUTPUT_VARIABLE orch_rev OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE orch_git_rc ERROR_QUIET)
    if(NOT orch_git_rc EQUAL 0)
      set(orch_rev "")
    else()
      foreach(p HEAD logs/HEAD)
        execute_process(
          COMMAND ${GIT_EXECUTABLE} rev-parse --git-path ${p}
          WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
          OUTPUT_VARIABLE orch_gp OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
        if(orch_gp AND NOT IS_ABSOLUTE "${orch_gp}")
          set(orch_gp "${CMAKE_SOURCE_DIR}/${orch_gp}")
        endif()
        if(orch_gp AND EXISTS "${orch_gp}")
          set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${orch_gp}")
        endif()
      endforeach()
    endif()
  endif()
endif()
if(orch_rev STREQUAL "")
  set(ORCH_VERSION_FULL "${PROJECT_VERSION}")
else()
  set(ORCH_VERSION_FULL "${PROJECT_VERSION} (git ${orch_rev})")
endif()
configure_file(${CMAKE_SOURCE_DIR}/services/common/version.c.in
               ${CMAKE_BINARY_DIR}/generated/version.c @ONLY)
