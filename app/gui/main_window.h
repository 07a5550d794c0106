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
  QWidget* assistantPanel() const { return m_assistantPanel; }
  // A bar across the top of the window, above the viewer and the panel (the history's problems).
  // The window takes ownership; the bar shows and hides itself.
  void addMessageBar(QWidget* bar);

  cxr::viewer::ViewerWidget* viewer() const { return m_viewer; }
  cxr::viewer::ViewerActions* viewerActions() const { return m_viewerActions; }
  QSplitter* splitter() const { return m_splitter; }
  QString currentFile() const { return m_currentFile; }
  QString lastError() const { return m_lastError; }
  QStringList recentFiles() const { return m_recentFiles; }
  QStringList folderImages() const { return m_folderImages; }
  int folderIndex() const { return m_folderIndex; }

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

  cxr::viewer::ViewerWidget* m_viewer = nullptr;
  cxr::viewer::ViewerActions* m_viewerActions = nullptr;
  QSplitter* m_splitter = nullptr;
  QVBoxLayout* m_centralLayout = nullptr;
  QPointer<QWidget> m_assistantPanel;

  QAction* m_openAction = nullptr;
  QAction* m_openFolderAction = nullptr;
  QAction* m_nextImageAction = nullptr;
  QAction* m_previousImageAction = nullptr;
  QAction* m_exportAction = nullptr;
  QAction* m_copyAction = nullptr;
  QAction* m_quitAction = nullptr;
  QAction* m_tagsAction = nullptr;
  QAction* m_windowEntryAction = nullptr;
  QAction* m_shortcutsAction = nullptr;
  QAction* m_aboutAction = nullptr;
  QAction* m_fullScreenAction = nullptr;
  QMenu* m_recentMenu = nullptr;
  QMenu* m_helpMenu = nullptr;
  QMenu* m_fileMenu = nullptr;

  QLabel* m_imageInfo = nullptr;
  QLabel* m_windowInfo = nullptr;
  QLabel* m_zoomInfo = nullptr;
  QLabel* m_cursorInfo = nullptr;
  QProgressBar* m_openingIndicator = nullptr;  // busy bar while a file decodes
  bool m_opening = false;                      // one file at a time

  QString m_currentFile;
  QString m_lastError;
  QStringList m_recentFiles;
  QStringList m_folderImages;
  int m_folderIndex = -1;
};

}  // namespace cxr::app
