#include "main_window.h"

#include "image_budget.h"
#include "shortcuts_dialog.h"

#include "cxr/viewer/radiograph.h"
#include "cxr/viewer/tag_browser.h"
#include "cxr/viewer/viewer_actions.h"
#include "cxr/viewer/viewer_widget.h"
#include "cxr/viewer/window_dialog.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QImageWriter>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QGuiApplication>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QThread>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <QWindow>

#include <functional>

// Outside any namespace, as Q_INIT_RESOURCE requires.
static void initIconResources() { Q_INIT_RESOURCE(cxr_icons); }

namespace cxr::app {

using cxr::viewer::ViewerActions;
using cxr::viewer::ViewerWidget;

namespace {

constexpr int kMaxRecentFiles = 10;

const QString kOpenFilter = QStringLiteral(
    "Radiographs (*.dcm *.dicom *.dic *.png *.jpg *.jpeg *.tif *.tiff *.bmp);;"
    "DICOM (*.dcm *.dicom *.dic);;Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp);;All files (*)");

QIcon icon(const QString& name) { return QIcon(u":/icons/" + name + u".svg"); }

QAction* makeAction(QObject* parent, const QString& text, const QKeySequence& key,
                    const QString& iconName = {}) {
  auto* a = new QAction(text, parent);
  a->setShortcut(key);
  if (!iconName.isEmpty())
    a->setIcon(icon(iconName));
  if (!key.isEmpty())
    a->setToolTip(QStringLiteral("%1 (%2)").arg(QString(text).remove(u'&').remove(QChar(0x2026)),
                                                key.toString(QKeySequence::NativeText)));
  return a;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  initIconResources();
  setObjectName(QStringLiteral("mainWindow"));
  setWindowIcon(icon(QStringLiteral("cxr-assistant")));
  setAcceptDrops(true);

  m_viewer = new ViewerWidget(this);
  m_viewer->setObjectName(QStringLiteral("viewer"));
  m_splitter = new QSplitter(Qt::Horizontal, this);
  m_splitter->setObjectName(QStringLiteral("mainSplitter"));
  m_splitter->setChildrenCollapsible(false);
  m_splitter->addWidget(m_viewer);
  // Message bars (addMessageBar) sit above the splitter.
  auto* central = new QWidget(this);
  m_centralLayout = new QVBoxLayout(central);
  m_centralLayout->setContentsMargins(0, 0, 0, 0);
  m_centralLayout->setSpacing(0);
  m_centralLayout->addWidget(m_splitter, 1);
  setCentralWidget(central);

  m_viewerActions = new ViewerActions(m_viewer, this);
  createActions();
  createMenus();
  createToolBar();
  createStatusBar();
  readSettings();

  connect(m_viewer, &ViewerWidget::windowChanged, this, [this] { updateStatus(); });
  connect(m_viewer, &ViewerWidget::viewChanged, this, [this] { updateStatus(); });
  connect(m_viewer, &ViewerWidget::frameChanged, this, [this] { updateStatus(); });
  connect(m_viewer, &ViewerWidget::cursorInfoChanged, m_cursorInfo, &QLabel::setText);
  // In fit mode a resize (window, splitter) changes the zoom without a viewChanged signal.
  m_viewer->installEventFilter(this);
  connect(m_viewerActions->anonymised, &QAction::toggled, this, [this] {
    updateTitle();
    updateStatus();
  });
  updateTitle();
  updateStatus();
  updateActionStates();
  m_viewer->setFocus();
}

MainWindow::~MainWindow() = default;

// ---- Actions, menus, toolbar, status bar -----------------------------------------------------

void MainWindow::createActions() {
  m_openAction = makeAction(this, tr("&Open…"), QKeySequence::Open, QStringLiteral("open"));
  m_openFolderAction = makeAction(this, tr("Open &Folder…"), QKeySequence(tr("Ctrl+Shift+O")),
                                  QStringLiteral("folder"));
  m_nextImageAction = makeAction(this, tr("&Next Image in Folder"), QKeySequence(Qt::Key_PageDown),
                                 QStringLiteral("next"));
  m_previousImageAction = makeAction(this, tr("&Previous Image in Folder"),
                                     QKeySequence(Qt::Key_PageUp), QStringLiteral("previous"));
  m_exportAction = makeAction(this, tr("&Export View as PNG…"), QKeySequence(tr("Ctrl+E")),
                              QStringLiteral("export"));
  m_copyAction = makeAction(this, tr("&Copy View to Clipboard"), QKeySequence::Copy,
                            QStringLiteral("copy"));
  m_quitAction = makeAction(this, tr("&Quit"), QKeySequence::Quit);
  m_tagsAction = makeAction(this, tr("DICOM &Tags…"), QKeySequence(tr("Ctrl+T")),
                            QStringLiteral("tags"));
  m_windowEntryAction = makeAction(this, tr("Set &Window…"), QKeySequence(Qt::Key_N),
                                   QStringLiteral("window-entry"));
  m_shortcutsAction = makeAction(this, tr("&Keyboard and Mouse Shortcuts"),
                                 QKeySequence(Qt::Key_F1));
  m_aboutAction = makeAction(this, tr("&About CXR Assistant"), QKeySequence());
  m_fullScreenAction = makeAction(this, tr("F&ull Screen"), QKeySequence::FullScreen);
  m_fullScreenAction->setCheckable(true);

  connect(m_openAction, &QAction::triggered, this, &MainWindow::showOpenDialog);
  connect(m_openFolderAction, &QAction::triggered, this, &MainWindow::showOpenFolderDialog);
  connect(m_nextImageAction, &QAction::triggered, this, &MainWindow::showNextImage);
  connect(m_previousImageAction, &QAction::triggered, this, &MainWindow::showPreviousImage);
  connect(m_exportAction, &QAction::triggered, this, &MainWindow::exportViewDialog);
  connect(m_copyAction, &QAction::triggered, this, &MainWindow::copyViewToClipboard);
  connect(m_quitAction, &QAction::triggered, this, &QWidget::close);
  connect(m_tagsAction, &QAction::triggered, this, &MainWindow::showTagBrowser);
  connect(m_windowEntryAction, &QAction::triggered, this, &MainWindow::showWindowEntry);
  connect(m_shortcutsAction, &QAction::triggered, this, &MainWindow::showShortcuts);
  connect(m_aboutAction, &QAction::triggered, this, &MainWindow::showAbout);
  connect(m_fullScreenAction, &QAction::toggled, this,
          [this](bool on) { on ? showFullScreen() : showNormal(); });
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  m_fileMenu = file;
  file->addAction(m_openAction);
  file->addAction(m_openFolderAction);
  m_recentMenu = file->addMenu(tr("Open &Recent"));
  file->addSeparator();
  file->addAction(m_nextImageAction);
  file->addAction(m_previousImageAction);
  file->addSeparator();
  file->addAction(m_exportAction);
  file->addAction(m_copyAction);
  file->addSeparator();
  file->addAction(m_quitAction);

  const ViewerActions* va = m_viewerActions;
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QAction* a : {va->zoomIn, va->zoomOut, va->fit, va->actualPixels})
    view->addAction(a);
  view->addSeparator();
  for (QAction* a : {va->rotateClockwise, va->rotateCounterClockwise, va->flipHorizontal,
                     va->flipVertical})
    view->addAction(a);
  view->addSeparator();
  for (QAction* a : {va->magnifier, va->overlays, va->anonymised})
    view->addAction(a);
  view->addSeparator();
  view->addAction(va->resetView);
  view->addAction(m_fullScreenAction);

  QMenu* image = menuBar()->addMenu(tr("&Image"));
  image->addAction(va->invert);
  image->addAction(m_windowEntryAction);
  image->addAction(va->resetWindow);
  image->addMenu(va->presetMenu());
  image->addSeparator();
  image->addAction(va->nextFrame);
  image->addAction(va->previousFrame);
  image->addSeparator();
  image->addAction(m_tagsAction);
  image->addSeparator();
  image->addAction(tr("Image &Size Limits…"), this, [this] { ImageBudgetDialog(this).exec(); });

  QMenu* tools = menuBar()->addMenu(tr("&Tools"));
  for (QAction* a : va->toolActions())
    tools->addAction(a);
  tools->addSeparator();
  tools->addAction(va->deleteMeasurement);
  tools->addAction(va->clearMeasurements);

  m_helpMenu = menuBar()->addMenu(tr("&Help"));
  m_helpMenu->addAction(m_shortcutsAction);
  m_helpMenu->addAction(m_aboutAction);
}

void MainWindow::addFileMenuAction(QAction* action) {
  m_fileMenu->insertAction(m_quitAction, action);
  m_fileMenu->insertSeparator(m_quitAction);
}

QMenu* MainWindow::addMenuBeforeHelp(const QString& title) {
  auto* menu = new QMenu(title, menuBar());
  menuBar()->insertMenu(m_helpMenu->menuAction(), menu);
  return menu;
}

void MainWindow::createToolBar() {
  QToolBar* bar = addToolBar(tr("Tools"));
  bar->setObjectName(QStringLiteral("mainToolBar"));
  bar->setIconSize(QSize(22, 22));
  bar->addAction(m_openAction);
  bar->addAction(m_openFolderAction);
  bar->addSeparator();
  const ViewerActions* va = m_viewerActions;
  for (QAction* a : va->toolActions())
    bar->addAction(a);
  bar->addSeparator();
  for (QAction* a : {va->zoomIn, va->zoomOut, va->fit, va->actualPixels, va->rotateCounterClockwise,
                     va->rotateClockwise, va->flipHorizontal, va->flipVertical})
    bar->addAction(a);
  bar->addSeparator();
  bar->addAction(va->invert);
  auto* presets = new QToolButton(bar);
  presets->setMenu(va->presetMenu());
  presets->setIcon(icon(QStringLiteral("presets")));
  presets->setToolTip(tr("Window presets (Ctrl+1..9)"));
  presets->setPopupMode(QToolButton::InstantPopup);
  bar->addWidget(presets);
  bar->addAction(m_windowEntryAction);
  bar->addAction(va->resetView);
  bar->addSeparator();
  bar->addAction(va->magnifier);
  bar->addAction(va->anonymised);
  bar->addAction(m_tagsAction);
  bar->addAction(m_exportAction);
  // The viewer's actions are on the viewer widget (ViewerActions adds them). The window's own
  // plain-key shortcuts join them there, scoped like them: N or PageDown typed into the assistant's
  // question box, or pressed in its read-only transcript, must not act on the image; and Ctrl+C
  // there copies the selected text, not the view.
  for (QAction* a : {m_windowEntryAction, m_nextImageAction, m_previousImageAction, m_copyAction}) {
    a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_viewer->addAction(a);
  }
}

void MainWindow::createStatusBar() {
  m_imageInfo = new QLabel(this);
  m_windowInfo = new QLabel(this);
  m_zoomInfo = new QLabel(this);
  m_cursorInfo = new QLabel(this);
  m_cursorInfo->setMinimumWidth(220);
  statusBar()->addWidget(m_imageInfo, 1);
  statusBar()->addPermanentWidget(m_cursorInfo);
  statusBar()->addPermanentWidget(m_windowInfo);
  statusBar()->addPermanentWidget(m_zoomInfo);
  m_openingIndicator = new QProgressBar(this);
  m_openingIndicator->setRange(0, 0);  // busy: a decoder says nothing about its progress
  m_openingIndicator->setMaximumWidth(120);
  m_openingIndicator->setAccessibleName(tr("Opening image"));
  m_openingIndicator->hide();
  statusBar()->addPermanentWidget(m_openingIndicator);
}

QList<QAction*> MainWindow::shortcutActions() const {
  QList<QAction*> out;
  std::function<void(const QList<QAction*>&)> collect = [&](const QList<QAction*>& actions) {
    for (QAction* a : actions) {
      if (a->menu())
        collect(a->menu()->actions());
      else if (!a->shortcut().isEmpty() && !out.contains(a))
        out << a;
    }
  };
  collect(menuBar()->actions());
  collect(actions());
  return out;
}

void MainWindow::updateTitle() {
  const bool anonymised = m_viewer->isAnonymised();
  if (m_currentFile.isEmpty())
    setWindowTitle(tr("CXR Assistant"));
  else if (anonymised)
    setWindowTitle(tr("CXR Assistant (anonymised)"));
  else
    setWindowTitle(tr("%1 - CXR Assistant").arg(QFileInfo(m_currentFile).fileName()));
}

void MainWindow::updateStatus() {
  const auto& image = m_viewer->image();
  if (!image) {
    m_imageInfo->setText(tr("No image. Open one with Ctrl+O or drop a file here."));
    m_windowInfo->clear();
    m_zoomInfo->clear();
    return;
  }
  QStringList parts;
  parts << image->formatName << tr("%1 x %2").arg(image->width).arg(image->height);
  if (image->frames > 1)
    parts << tr("frame %1/%2").arg(m_viewer->frame() + 1).arg(image->frames);
  const auto& cal = image->calibration;
  if (cal.source != cxr::viewer::Calibration::Source::None && cal.rowSpacingMm == cal.columnSpacingMm)
    parts << tr("%1 mm pixels (%2)").arg(cal.rowSpacingMm, 0, 'g', 4).arg(cal.label());
  else if (cal.source != cxr::viewer::Calibration::Source::None)
    parts << tr("%1 x %2 mm pixels, row x column (%3)")
                 .arg(cal.rowSpacingMm, 0, 'g', 4)
                 .arg(cal.columnSpacingMm, 0, 'g', 4)
                 .arg(cal.label());
  else
    parts << cal.label();
  if (m_folderImages.size() > 1)
    parts << tr("image %1 of %2 in folder").arg(m_folderIndex + 1).arg(m_folderImages.size());
  m_imageInfo->setText(parts.join(QStringLiteral("  ·  ")));
  const auto w = m_viewer->currentWindow();
  m_windowInfo->setText(tr("C %1  W %2%3")
                            .arg(w.center, 0, 'g', 6)
                            .arg(w.width, 0, 'g', 6)
                            .arg(m_viewer->isInverted() ? tr("  inverted") : QString()));
  m_zoomInfo->setText(tr("Zoom %1%").arg(m_viewer->view().zoom() * 100.0, 0, 'f', 0));
}

// ---- Opening ---------------------------------------------------------------------------------

bool MainWindow::openFile(const QString& path) {
  if (m_opening) {  // asked again (a drop, a key) while the event loop runs during a decode
    statusBar()->showMessage(tr("Still opening the previous image; try again when it is shown."), 4000);
    return false;
  }
  if (QFileInfo(path).isDir())
    return openFolder(path);
  QString error;
  if (!loadAndShow(path, &error)) {
    showError(tr("Cannot open image"), error);
    return false;
  }
  return true;
}

bool MainWindow::loadAndShow(const QString& path, QString* error) {
  const cxr::viewer::LoadResult result = loadOffTheGuiThread(path);
  if (!result.ok()) {
    *error = result.error;
    return false;
  }
  m_lastError.clear();
  m_currentFile = QFileInfo(path).absoluteFilePath();
  m_viewer->setImage(result.image);
  // Opening a file also lets PageDown/PageUp step through its folder, unless it already is the
  // folder being stepped through.
  if (!m_folderImages.contains(m_currentFile))
    openFolderListing(QFileInfo(m_currentFile).absolutePath(), m_currentFile);
  else
    m_folderIndex = static_cast<int>(m_folderImages.indexOf(m_currentFile));
  addRecentFile(m_currentFile);
  m_viewer->setFocus();  // the viewer's single-key shortcuts act on what was just opened
  updateTitle();
  updateStatus();
  updateActionStates();
  Q_EMIT imageOpened(m_currentFile);
  return true;
}

// Decoding (a 100 MB multi-frame DICOM, a file on a slow network folder) runs on its own thread while
// the window keeps painting in a local event loop, with a busy bar and the file's name in the status
// bar. User input waits until the image is shown, so no second open, close or tool starts half way;
// openFile() still returns the outcome, as callers and tests expect.
cxr::viewer::LoadResult MainWindow::loadOffTheGuiThread(const QString& path) {
  cxr::viewer::LoadResult result;
  const cxr::viewer::LoadOptions options = imageLoadOptions();
  QThread* worker = QThread::create([&result, path, options] { result = cxr::viewer::loadRadiograph(path, options); });
  QEventLoop loop;
  connect(worker, &QThread::finished, &loop, &QEventLoop::quit);
  m_opening = true;
  QApplication::setOverrideCursor(Qt::BusyCursor);
  statusBar()->showMessage(tr("Opening %1…").arg(QFileInfo(path).fileName()));
  m_openingIndicator->show();
  worker->start();
  if (!worker->isFinished())
    loop.exec(QEventLoop::ExcludeUserInputEvents);
  worker->wait();  // also when the loop ended early (the application quitting)
  delete worker;
  m_openingIndicator->hide();
  statusBar()->clearMessage();
  QApplication::restoreOverrideCursor();
  m_opening = false;
  return result;
}

void MainWindow::updateActionStates() {
  const auto& image = m_viewer->image();
  for (QAction* a : {m_exportAction, m_copyAction, m_windowEntryAction})
    a->setEnabled(image != nullptr);
  m_tagsAction->setEnabled(image && !image->tags.empty());
  const bool inFolder = m_folderImages.size() > 1;
  m_nextImageAction->setEnabled(inFolder);
  m_previousImageAction->setEnabled(inFolder);
}

bool MainWindow::openFolderListing(const QString& folder, const QString& selectPath) {
  QStringList images;
  for (const QString& p : cxr::viewer::listImagesInFolder(folder))
    images << QFileInfo(p).absoluteFilePath();
  m_folderImages = images;
  m_folderIndex = static_cast<int>(images.indexOf(selectPath));
  return !images.isEmpty();
}

bool MainWindow::openFolder(const QString& folder) {
  if (!openFolderListing(folder, QString())) {
    showError(tr("No images in folder"),
              tr("Cannot open folder %1: it holds no DICOM, PNG, JPEG, TIFF or BMP files.")
                  .arg(QDir::toNativeSeparators(folder)));
    return false;
  }
  QSettings().setValue(QStringLiteral("files/lastDir"), folder);
  // Open the first image that loads. Unreadable ones before it are counted, not each shown in
  // its own message box.
  QString firstError;
  for (int i = 0; i < m_folderImages.size(); ++i) {
    m_folderIndex = i;
    QString error;
    if (loadAndShow(m_folderImages[i], &error)) {
      if (i > 0)
        statusBar()->showMessage(tr("Skipped %n unreadable file(s) at the start of the folder.",
                                    nullptr, i), 8000);
      return true;
    }
    if (firstError.isEmpty())
      firstError = error;
  }
  showError(tr("No readable images in folder"),
            tr("None of the %n image file(s) in %1 could be opened. The first said: %2", nullptr,
               static_cast<int>(m_folderImages.size()))
                .arg(QDir::toNativeSeparators(folder), firstError));
  return false;
}

void MainWindow::showNextImage() {
  if (m_folderImages.isEmpty())
    return;
  const int next = m_folderIndex + 1;
  if (next >= m_folderImages.size()) {
    statusBar()->showMessage(tr("Last image in the folder."), 3000);
    return;
  }
  m_folderIndex = next;
  if (!openFile(m_folderImages[next]))
    updateStatus();  // the failed file keeps its place, so the next PageDown moves past it
}

void MainWindow::showPreviousImage() {
  if (m_folderImages.isEmpty())
    return;
  const int previous = m_folderIndex - 1;
  if (previous < 0) {
    statusBar()->showMessage(tr("First image in the folder."), 3000);
    return;
  }
  m_folderIndex = previous;
  if (!openFile(m_folderImages[previous]))
    updateStatus();
}

void MainWindow::showOpenDialog() {
  const QString dir = QSettings().value(QStringLiteral("files/lastDir")).toString();
  const QString path = QFileDialog::getOpenFileName(this, tr("Open Radiograph"), dir, kOpenFilter);
  if (path.isEmpty())
    return;
  QSettings().setValue(QStringLiteral("files/lastDir"), QFileInfo(path).absolutePath());
  openFile(path);
}

void MainWindow::showOpenFolderDialog() {
  const QString dir = QSettings().value(QStringLiteral("files/lastDir")).toString();
  const QString folder = QFileDialog::getExistingDirectory(this, tr("Open Folder"), dir);
  if (!folder.isEmpty())
    openFolder(folder);
}

void MainWindow::addRecentFile(const QString& path) {
  m_recentFiles.removeAll(path);
  m_recentFiles.prepend(path);
  while (m_recentFiles.size() > kMaxRecentFiles)
    m_recentFiles.removeLast();
  QSettings().setValue(QStringLiteral("files/recent"), m_recentFiles);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  m_recentMenu->clear();
  for (int i = 0; i < m_recentFiles.size(); ++i) {
    const QString path = m_recentFiles[i];
    QAction* a = m_recentMenu->addAction(
        QStringLiteral("&%1 %2").arg(i + 1 < 10 ? QString::number(i + 1) : QStringLiteral("0"),
                                     QDir::toNativeSeparators(path)));
    connect(a, &QAction::triggered, this, [this, path] { openFile(path); });
  }
  if (m_recentFiles.isEmpty()) {
    m_recentMenu->addAction(tr("(none yet)"))->setEnabled(false);
    return;
  }
  m_recentMenu->addSeparator();
  connect(m_recentMenu->addAction(tr("Clear List")), &QAction::triggered, this, [this] {
    m_recentFiles.clear();
    QSettings().setValue(QStringLiteral("files/recent"), m_recentFiles);
    rebuildRecentMenu();
  });
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const QMimeData* mime = event->mimeData();
  if (mime->hasUrls() && !mime->urls().isEmpty() && mime->urls().first().isLocalFile())
    event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QList<QUrl> urls = event->mimeData()->urls();
  if (urls.isEmpty() || !urls.first().isLocalFile())
    return;
  const QString path = urls.first().toLocalFile();
  event->acceptProposedAction();
  if (QFileInfo(path).isDir())
    openFolder(path);
  else
    openFile(path);
}

void MainWindow::showError(const QString& title, const QString& message) {
  m_lastError = message;
  statusBar()->showMessage(message, 10000);
  // Non-blocking: the window stays usable (and tests and scripts are not stopped by a modal loop).
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setObjectName(QStringLiteral("errorMessage"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

// ---- Assistant panel -------------------------------------------------------------------------

void MainWindow::addMessageBar(QWidget* bar) {
  m_centralLayout->insertWidget(m_centralLayout->count() - 1, bar);
}

void MainWindow::setAssistantPanel(QWidget* panel) {
  if (m_assistantPanel == panel)
    return;
  delete m_assistantPanel;
  m_assistantPanel = panel;
  if (!panel)
    return;
  m_splitter->addWidget(panel);
  m_splitter->setStretchFactor(0, 3);
  m_splitter->setStretchFactor(1, 2);
  const QByteArray saved = QSettings().value(QStringLiteral("window/splitter")).toByteArray();
  if (saved.isEmpty() || !m_splitter->restoreState(saved)) {
    // 3:2 for the image. Set again once the window has its real size (it may not be shown yet,
    // and then the splitter's width is not the one the user will see).
    auto share = [splitter = m_splitter] {
      const int total = std::max(1000, splitter->width());
      splitter->setSizes({total * 3 / 5, total * 2 / 5});
    };
    share();
    QTimer::singleShot(0, m_splitter, share);
  }
}

// ---- Export, dialogs -------------------------------------------------------------------------

void MainWindow::exportViewDialog() {
  if (!m_viewer->hasImage())
    return;
  const QString dir = QSettings().value(QStringLiteral("files/exportDir"),
                                        QFileInfo(m_currentFile).absolutePath()).toString();
  // In anonymised mode the suggested name must not carry the (possibly identifying) file name.
  const QString base = m_viewer->isAnonymised() ? QStringLiteral("view")
                                                : QFileInfo(m_currentFile).completeBaseName() +
                                                      QStringLiteral("_view");
  const QString path = QFileDialog::getSaveFileName(this, tr("Export View as PNG"),
                                                    QDir(dir).filePath(base + u".png"),
                                                    tr("PNG image (*.png)"));
  if (path.isEmpty())
    return;
  QSettings().setValue(QStringLiteral("files/exportDir"), QFileInfo(path).absolutePath());
  exportView(path);
}

bool MainWindow::exportView(const QString& pngPath) {
  if (!m_viewer->hasImage())
    return false;
  QImageWriter writer(pngPath, "png");
  if (!writer.write(m_viewer->renderView())) {
    showError(tr("Cannot export view"), tr("Cannot write %1: %2")
                                           .arg(QDir::toNativeSeparators(pngPath),
                                                writer.errorString()));
    return false;
  }
  statusBar()->showMessage(tr("View saved to %1").arg(QDir::toNativeSeparators(pngPath)), 5000);
  return true;
}

void MainWindow::copyViewToClipboard() {
  if (!m_viewer->hasImage())
    return;
  QGuiApplication::clipboard()->setImage(m_viewer->renderView());
  statusBar()->showMessage(tr("View copied to the clipboard."), 3000);
}

void MainWindow::showTagBrowser() {
  const auto& image = m_viewer->image();
  if (!image)
    return;
  auto* dialog = new cxr::viewer::TagBrowserDialog(*image, m_viewer->isAnonymised(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->show();
}

void MainWindow::showWindowEntry() {
  const auto& image = m_viewer->image();
  if (!image)
    return;
  const cxr::viewer::VoiSelection before = m_viewer->voi();
  auto* dialog = new cxr::viewer::WindowEntryDialog(m_viewer->currentWindow(), image->minModality(),
                                                    image->maxModality(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &cxr::viewer::WindowEntryDialog::windowEdited, m_viewer,
          &ViewerWidget::setWindow);  // live preview
  connect(dialog, &QDialog::rejected, m_viewer, [viewer = m_viewer, before] {
    viewer->setVoiSelection(before);  // Cancel restores what was there
  });
  dialog->open();
}

void MainWindow::showShortcuts() {
  auto* dialog = new ShortcutsDialog(shortcutActions(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->show();
}

void MainWindow::showAbout() {
  QMessageBox::about(
      this, tr("About CXR Assistant"),
      tr("<h3>CXR Assistant %1</h3><p>A chest X-ray viewer with a local CXR-LLaVA assistant.</p>"
         "<p>For research use only. Not for diagnosis.</p>")
          .arg(QStringLiteral(CXR_VERSION_STRING)));
}

// ---- Settings and screenshots ----------------------------------------------------------------

void MainWindow::readSettings() {
  QSettings s;
  if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray())) {
    // 1400x900, or the screen's free area when it is smaller (a laptop, or 1.5x scaling, where a
    // 1400x900 screen has 933x600 logical pixels): a window larger than the screen hides its status bar.
    QSize size(1400, 900);
    if (const QScreen* screen = QGuiApplication::primaryScreen())
      size = size.boundedTo(screen->availableGeometry().size());
    resize(size);
  }
  restoreState(s.value(QStringLiteral("window/state")).toByteArray());
  m_recentFiles = s.value(QStringLiteral("files/recent")).toStringList();
  rebuildRecentMenu();
  m_viewerActions->overlays->setChecked(s.value(QStringLiteral("viewer/overlays"), true).toBool());
  m_viewerActions->anonymised->setChecked(
      s.value(QStringLiteral("viewer/anonymised"), false).toBool());
  m_viewerActions->magnifier->setChecked(s.value(QStringLiteral("viewer/magnifier"), false).toBool());
}

void MainWindow::writeSettings() const {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
  if (m_assistantPanel)
    s.setValue(QStringLiteral("window/splitter"), m_splitter->saveState());
  s.setValue(QStringLiteral("files/recent"), m_recentFiles);
  s.setValue(QStringLiteral("viewer/overlays"), m_viewer->overlaysVisible());
  s.setValue(QStringLiteral("viewer/anonymised"), m_viewer->isAnonymised());
  s.setValue(QStringLiteral("viewer/magnifier"), m_viewer->magnifierEnabled());
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_viewer && event->type() == QEvent::Resize)
    QTimer::singleShot(0, this, [this] { updateStatus(); });  // after the viewer has refitted
  return QMainWindow::eventFilter(watched, event);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  writeSettings();
  event->accept();
}

void MainWindow::scheduleScreenshot(const QString& path, int delayMs) {
  QTimer::singleShot(delayMs, this, [this, path] {
    QPixmap shot;
    // What the screen shows (needs a real window system such as Xvfb); the widget's own
    // rendering when the platform cannot grab (offscreen).
    if (QScreen* screen = this->screen())
      shot = screen->grabWindow(winId());
    if (shot.isNull())
      shot = grab();
    const bool saved = shot.save(path, "PNG");
    if (!saved)
      qWarning("Cannot write screenshot %s", qPrintable(QDir::toNativeSeparators(path)));
    // Scripts use this mode: an error shown in the window (e.g. the file did not open) fails it.
    if (!m_lastError.isEmpty())
      qWarning("%s", qPrintable(m_lastError));
    QCoreApplication::exit(saved && m_lastError.isEmpty() ? 0 : 1);
  });
}

}  // namespace cxr::app
