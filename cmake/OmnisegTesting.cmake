# Test registration helpers (used by tests/CMakeLists.txt).
#
#   omniseg_add_unit_test(NAME <name> SOURCES ... [LIBRARIES ...])
#     A plain GoogleTest binary, run once, labels `unit`.
#   omniseg_add_mpi_test(NAME <name> SOURCES ... [LIBRARIES ...] [RANKS 1 2 3 4] [TIMEOUT s] [LABELS ...]
#                        [ENVIRONMENT VAR=value ...])
#     A GoogleTest binary with the MPI-aware main, registered once per rank count as <name>_np<P>
#     (mpiexec --oversubscribe --bind-to none), labels `unit;mpi`. Never gtest-discovered: discovery
#     would run it without mpiexec.
#   omniseg_mpiexec_prefix(<out-var>)
#     mpiexec and its flags, without the rank count (script tests append "-n P").

set(OMNISEG_TEST_RANKS 1 2 3 4 CACHE STRING "Rank counts every MPI test runs at")
set(OMNISEG_DEFAULT_TEST_TIMEOUT_S 120)
# Open MPI refuses root without these; set per test, never globally.
set(OMNISEG_MPI_TEST_ENVIRONMENT
  "OMPI_ALLOW_RUN_AS_ROOT=1"
  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")

function(omniseg_mpiexec_prefix out)
  # --bind-to none: under ctest -j, default binding piles every test's ranks onto cores 0-1.
  set(${out} "${MPIEXEC_EXECUTABLE}" --oversubscribe --bind-to none ${MPIEXEC_PREFLAGS} PARENT_SCOPE)
endfunction()

function(omniseg_add_unit_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${OMNISEG_DEFAULT_TEST_TIMEOUT_S})
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBRARIES} GTest::gtest GTest::gtest_main)
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

function(omniseg_add_mpi_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBRARIES;RANKS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT ARG_RANKS)
    set(ARG_RANKS ${OMNISEG_TEST_RANKS})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${OMNISEG_DEFAULT_TEST_TIMEOUT_S})
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBRARIES} omniseg_mpi_gtest_main)
  foreach(ranks IN LISTS ARG_RANKS)
    omniseg_mpiexec_prefix(launch)
    add_test(NAME ${ARG_NAME}_np${ranks}
             COMMAND ${launch} ${MPIEXEC_NUMPROC_FLAG} ${ranks} $<TARGET_FILE:${ARG_NAME}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(${ARG_NAME}_np${ranks} PROPERTIES
      LABELS "unit;mpi;${ARG_LABELS}"
      ENVIRONMENT "${OMNISEG_MPI_TEST_ENVIRONMENT};${ARG_ENVIRONMENT}"
      TIMEOUT ${ARG_TIMEOUT}
      PROCESSORS ${ranks})
  endforeach()
endfunction()
