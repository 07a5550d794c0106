// cxr-batch's subcommands. Each takes the arguments after its name and returns the exit status
// (0 success, 1 a failure the command explains on stderr, 2 a usage error).
#pragma once

#include <QStringList>

namespace cxr::batch {

int runCommand(const QStringList& args);    // run: reports for a folder or manifest (run_command.cpp)
int mergeCommand(const QStringList& args);  // merge: combine the shards of a run (merge_command.cpp)
int labelCommand(const QStringList& args);  // label: findings labels for report text (label_command.cpp)
int evalCommand(const QStringList& args);   // eval: metrics against reference labels (eval_command.cpp)

}  // namespace cxr::batch
