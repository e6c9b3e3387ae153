# How orch finds its system dependencies.  Every one is a Debian 12 package;
# no upstream code is copied into this tree.  third_party/README.md lists
# the packages and why each minimum version is required.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# NNG: request/reply and publish/subscribe between manager and agents.
# Debian's libnng-dev ships a CMake package config.
find_package(nng 1.5.2 CONFIG REQUIRED)

# protobuf-c: >= 1.4.1, since earlier versions have CVE-2022-48468
# (unpacking of a crafted message, heap overflow) and CVE-2022-33070.
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c>=1.4.1)
find_program(PROTOC_C NAMES protoc-c protoc-gen-c REQUIRED)
execute_process(COMMAND ${PROTOC_C} --version OUTPUT_VARIABLE _protoc_c_version
                ERROR_QUIET)
string(REGEX MATCH "protobuf-c ([0-9.]+)" _m "${_protoc_c_version}")
if(CMAKE_MATCH_1 VERSION_LESS 1.4.1)
  message(FATAL_ERROR "protoc-c >= 1.4.1 required, found '${CMAKE_MATCH_1}'")
endif()

# SQLite: the manager's store.  3.35 for RETURNING and the WAL behaviour
# the store relies on; Debian 12 has 3.40.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3>=3.35)

# libcurl: orchctl's HTTP client, the agent's Docker client (unix socket
# support has been in curl since 7.40) and its http health checks.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.74)

# jansson: JSON for the HTTP API and Docker's answers (see third_party/README.md).
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson>=2.13)

# libuuid: random (v4) task ids.
pkg_check_modules(UUID REQUIRED IMPORTED_TARGET uuid>=2.36)

# mbed TLS 2.28 (LTS), which NNG's TLS already links.  Two targets over
# one discovery: orch_mbedcrypto (libmbedcrypto: SHA-256 and the
# constant-time comparison behind the API tokens) and orch_mbedtls (adds
# libmbedx509 and libmbedtls: certificates for orch-manager certs, the TLS
# engine behind NNG's tls+tcp:// in services/common/tls_engine.c, HTTPS on
# the gateway).  Debian's libmbedtls-dev ships neither pkg-config nor CMake
# files, so the libraries and the header are found by name.  2.28 is the
# first with the public mbedtls_ct_memcmp(); 3.x changed
# mbedtls_pk_parse_key and made struct fields private, so 2.28.x it is.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/version.h)
find_library(MBEDTLS_LIB mbedtls)
find_library(MBEDX509_LIB mbedx509)
find_library(MBEDCRYPTO_LIB mbedcrypto)
if(NOT MBEDTLS_INCLUDE_DIR OR NOT MBEDTLS_LIB OR NOT MBEDX509_LIB OR NOT MBEDCRYPTO_LIB)
  message(FATAL_ERROR "mbed TLS not found: install libmbedtls-dev (scripts/deps.sh)")
endif()
file(STRINGS ${MBEDTLS_INCLUDE_DIR}/mbedtls/version.h _mbedtls_ver
     REGEX "^#define MBEDTLS_VERSION_STRING +\"[0-9.]+\"")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" _mbedtls_ver "${_mbedtls_ver}")
if(_mbedtls_ver VERSION_LESS 2.28 OR NOT _mbedtls_ver VERSION_LESS 3.0)
  message(FATAL_ERROR "mbed TLS 2.28.x required, found '${_mbedtls_ver}'")
endif()
add_library(orch_mbedcrypto INTERFACE)
target_include_directories(orch_mbedcrypto INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(orch_mbedcrypto INTERFACE ${MBEDCRYPTO_LIB})
add_library(orch_mbedtls INTERFACE)
# Link order matters for static archives: tls needs x509 needs crypto.
target_link_libraries(orch_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB}
                      orch_mbedcrypto)
