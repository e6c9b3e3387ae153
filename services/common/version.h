/*
 * version.h: the version every orch program prints.
 *
 * "0.1.0 (git abc1234)" in a git checkout, "0.1.0" from a source tarball
 * (cmake/version.cmake makes it at configure time).  ORCH_VERSION, the
 * bare number, is a compile definition of every file (User-Agent and
 * Server headers, the agent's registration).
 */
#ifndef ORCH_VERSION_H
#define ORCH_VERSION_H

extern const char orch_version[];

#endif
