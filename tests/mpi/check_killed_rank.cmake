# ctest mpi_killed_rank: a collective save in which one rank is SIGKILLed must leave no index, and
# every shard file on disk whole. Run with -DMPIEXEC=… -DPROGRAM=… -DDIR=… -DNP=4.
function(run_or_die expect_ok)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_ok AND NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  elseif(NOT expect_ok AND rc EQUAL 0)
    message(FATAL_ERROR "succeeded although a rank was killed: ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${ARGN}: exit ${rc}\n${out}")
endfunction()

set(mpirun ${MPIEXEC} -np ${NP} --oversubscribe)
# Killed on entering step 3 (its shard written, its commit not yet reported) and step 2 (before
# writing), each after a complete save at the same path, whose index must go first.
foreach(kill_at 3 2)
  file(REMOVE_RECURSE ${DIR})
  file(MAKE_DIRECTORY ${DIR})
  run_or_die(TRUE ${mpirun} ${PROGRAM} save ${DIR})
  if(NOT EXISTS ${DIR}/model.safetensors.index.json)
    message(FATAL_ERROR "the complete save wrote no index")
  endif()
  run_or_die(FALSE ${mpirun} ${PROGRAM} save ${DIR} 2 ${kill_at})
  run_or_die(TRUE ${PROGRAM} verify ${DIR})
endforeach()
file(REMOVE_RECURSE ${DIR})
