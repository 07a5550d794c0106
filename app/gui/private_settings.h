// The settings file holds recent files, the export folder and the model folder: full paths, whose
// file names often carry patient names or record numbers. It is the user's alone.
#pragma once

#include <QString>

namespace cxr::app {

// Creates the settings folder 0700 and the settings file 0600 (empty) if missing, and tightens
// looser ones (saying so in the log), whatever the umask. Call once the application's name is set
// and before the settings are first written: QSettings rewrites the file through QSaveFile, which
// keeps an existing file's mode. Returns the settings file's path.
QString makeSettingsPrivate();

}  // namespace cxr::app
