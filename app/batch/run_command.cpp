#include <QTextStream>

#include "batch_commands.h"

namespace cxr::batch {

// Placeholder until the command lands: says so instead of pretending to work.
int runCommand(const QStringList& /*args*/) {
  QTextStream(stderr) << "cxr-batch run: not available in this build yet\n";
  return 1;
}

}  // namespace cxr::batch
