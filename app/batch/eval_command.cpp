#include <QTextStream>

#include "batch_commands.h"

namespace cxr::batch {

// Placeholder until the command lands: says so instead of pretending to work.
int evalCommand(const QStringList& /*args*/) {
  QTextStream(stderr) << "cxr-batch eval: not available in this build yet\n";
  return 1;
}

}  // namespace cxr::batch
