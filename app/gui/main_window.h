// The main window: the viewer on the left of a splitter, room for the assistant panel on the
// right, menus/toolbar/status bar, file opening (dialog, drag and drop, command line, recent
// files, folder stepping) and settings that persist. It composes library widgets; window/level,
// zoom and measurement logic stay in viewer/.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QMainWindow>
#include <QPointer>
#include <QStringList>

class QLabel;
class QProgressBar;
class QMenu;
class QSplitter;
class QVBoxLayout;
class QAction;

namespace cxr::viewer {
class ViewerWidget;
class ViewerActions;
}  // namespace cxr::viewer

namespace cxr::app {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens an image; on failure shows the loader's message (naming the file) in a non-blocking
  // message box, keeps the previous image, and returns false.
  bool openFile(const QString& path);
  // Lists the folder's images and opens the first; PageDown/PageUp step through them.
  bool openFolder(const QString& folder);

  // Puts `panel` on the right of the splitter (the assistant). The window takes ownership; a
  // previous panel is deleted. Null removes it.
  void setAssistantPanel(QWidget* panel);
  QWidget* assistantPanel() const { return assistantPanel_; }
  // A bar across the top of the window, above the viewer and the panel (the history's problems).
  // The window takes ownership; the bar shows and hides itself.
  void addMessageBar(QWidget* bar);

  cxr::viewer::ViewerWidget* viewer() const { return viewer_; }
  cxr::viewer::ViewerActions* viewerActions() const { return viewerActions_; }
  QSplitter* splitter() const { return splitter_; }
  QString currentFile() const { return currentFile_; }
  QString lastError() const { return lastError_; }
  QStringList recentFiles() const { return recentFiles_; }
  QStringList folderImages() const { return folderImages_; }
  int folderIndex() const { return folderIndex_; }

  // A top-level menu placed before Help (the assistant adds its own).
  QMenu* addMenuBeforeHelp(const QString& title);
  // An entry in the File menu, above Quit (the assistant's Batch...).
  void addFileMenuAction(QAction* action);

  // Every action with a keyboard shortcut, in menu order (for the Shortcuts dialog and tests).
  QList<QAction*> shortcutActions() const;

  // Debug aid: after `delayMs`, save what the screen shows of this window to `path` and quit
  // the application: exit code 0 when saved and no error was shown, else 1.
  void scheduleScreenshot(const QString& path, int delayMs);

 public Q_SLOTS:
  void showOpenDialog();
  void showOpenFolderDialog();
  void showNextImage();
  void showPreviousImage();
  void exportViewDialog();
  bool exportView(const QString& pngPath);
  void copyViewToClipboard();
  void showTagBrowser();
  void showWindowEntry();
  void showShortcuts();
  void showAbout();

 Q_SIGNALS:
  // A new image is on screen (the assistant listens to this).
  void imageOpened(const QString& path);

 protected:
  void closeEvent(QCloseEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void createActions();
  void createMenus();
  void createToolBar();
  void createStatusBar();
  void readSettings();
  void writeSettings() const;
  void addRecentFile(const QString& path);
  void rebuildRecentMenu();
  void updateTitle();
  void updateStatus();
  void showError(const QString& title, const QString& message);
  bool openFolderListing(const QString& folder, const QString& selectPath);
  bool loadAndShow(const QString& path, QString* error);  // no message box; openFile shows it
  cxr::viewer::LoadResult loadOffTheGuiThread(const QString& path);
  void updateActionStates();

  cxr::viewer::ViewerWidget* viewer_ = nullptr;
  cxr::viewer::ViewerActions* viewerActions_ = nullptr;
  QSplitter* splitter_ = nullptr;
  QVBoxLayout* centralLayout_ = nullptr;
  QPointer<QWidget> assistantPanel_;

  QAction* openAction_ = nullptr;
  QAction* openFolderAction_ = nullptr;
  QAction* nextImageAction_ = nullptr;
  QAction* previousImageAction_ = nullptr;
  QAction* exportAction_ = nullptr;
  QAction* copyAction_ = nullptr;
  QAction* quitAction_ = nullptr;
  QAction* tagsAction_ = nullptr;
  QAction* windowEntryAction_ = nullptr;
  QAction* shortcutsAction_ = nullptr;
  QAction* aboutAction_ = nullptr;
  QAction* fullScreenAction_ = nullptr;
  QMenu* recentMenu_ = nullptr;
  QMenu* helpMenu_ = nullptr;
  QMenu* fileMenu_ = nullptr;

  QLabel* imageInfo_ = nullptr;
  QLabel* windowInfo_ = nullptr;
  QLabel* zoomInfo_ = nullptr;
  QLabel* cursorInfo_ = nullptr;
  QProgressBar* openingIndicator_ = nullptr;  // busy bar while a file decodes
  bool opening_ = false;                      // one file at a time

  QString currentFile_;
  QString lastError_;
  QStringList recentFiles_;
  QStringList folderImages_;
  int folderIndex_ = -1;
};

}  // namespace cxr::app
