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

  viewer_ = new ViewerWidget(this);
  viewer_->setObjectName(QStringLiteral("viewer"));
  splitter_ = new QSplitter(Qt::Horizontal, this);
  splitter_->setObjectName(QStringLiteral("mainSplitter"));
  splitter_->setChildrenCollapsible(false);
  splitter_->addWidget(viewer_);
  // Message bars (addMessageBar) sit above the splitter.
  auto* central = new QWidget(this);
  centralLayout_ = new QVBoxLayout(central);
  centralLayout_->setContentsMargins(0, 0, 0, 0);
  centralLayout_->setSpacing(0);
  centralLayout_->addWidget(splitter_, 1);
  setCentralWidget(central);

  viewerActions_ = new ViewerActions(viewer_, this);
  createActions();
  createMenus();
  createToolBar();
  createStatusBar();
  readSettings();

  connect(viewer_, &ViewerWidget::windowChanged, this, [this] { updateStatus(); });
  connect(viewer_, &ViewerWidget::viewChanged, this, [this] { updateStatus(); });
  connect(viewer_, &ViewerWidget::frameChanged, this, [this] { updateStatus(); });
  connect(viewer_, &ViewerWidget::cursorInfoChanged, cursorInfo_, &QLabel::setText);
  // In fit mode a resize (window, splitter) changes the zoom without a viewChanged signal.
  viewer_->installEventFilter(this);
  connect(viewerActions_->anonymised, &QAction::toggled, this, [this] {
    updateTitle();
    updateStatus();
  });
  updateTitle();
  updateStatus();
  updateActionStates();
  viewer_->setFocus();
}

MainWindow::~MainWindow() = default;

// ---- Actions, menus, toolbar, status bar -----------------------------------------------------

void MainWindow::createActions() {
  openAction_ = makeAction(this, tr("&Open…"), QKeySequence::Open, QStringLiteral("open"));
  openFolderAction_ = makeAction(this, tr("Open &Folder…"), QKeySequence(tr("Ctrl+Shift+O")),
                                  QStringLiteral("folder"));
  nextImageAction_ = makeAction(this, tr("&Next Image in Folder"), QKeySequence(Qt::Key_PageDown),
                                 QStringLiteral("next"));
  previousImageAction_ = makeAction(this, tr("&Previous Image in Folder"),
                                     QKeySequence(Qt::Key_PageUp), QStringLiteral("previous"));
  exportAction_ = makeAction(this, tr("&Export View as PNG…"), QKeySequence(tr("Ctrl+E")),
                              QStringLiteral("export"));
  copyAction_ = makeAction(this, tr("&Copy View to Clipboard"), QKeySequence::Copy,
                            QStringLiteral("copy"));
  quitAction_ = makeAction(this, tr("&Quit"), QKeySequence::Quit);
  tagsAction_ = makeAction(this, tr("DICOM &Tags…"), QKeySequence(tr("Ctrl+T")),
                            QStringLiteral("tags"));
  windowEntryAction_ = makeAction(this, tr("Set &Window…"), QKeySequence(Qt::Key_N),
                                   QStringLiteral("window-entry"));
  shortcutsAction_ = makeAction(this, tr("&Keyboard and Mouse Shortcuts"),
                                 QKeySequence(Qt::Key_F1));
  aboutAction_ = makeAction(this, tr("&About CXR Assistant"), QKeySequence());
  fullScreenAction_ = makeAction(this, tr("F&ull Screen"), QKeySequence::FullScreen);
  fullScreenAction_->setCheckable(true);

  connect(openAction_, &QAction::triggered, this, &MainWindow::showOpenDialog);
  connect(openFolderAction_, &QAction::triggered, this, &MainWindow::showOpenFolderDialog);
  connect(nextImageAction_, &QAction::triggered, this, &MainWindow::showNextImage);
  connect(previousImageAction_, &QAction::triggered, this, &MainWindow::showPreviousImage);
  connect(exportAction_, &QAction::triggered, this, &MainWindow::exportViewDialog);
  connect(copyAction_, &QAction::triggered, this, &MainWindow::copyViewToClipboard);
  connect(quitAction_, &QAction::triggered, this, &QWidget::close);
  connect(tagsAction_, &QAction::triggered, this, &MainWindow::showTagBrowser);
  connect(windowEntryAction_, &QAction::triggered, this, &MainWindow::showWindowEntry);
  connect(shortcutsAction_, &QAction::triggered, this, &MainWindow::showShortcuts);
  connect(aboutAction_, &QAction::triggered, this, &MainWindow::showAbout);
  connect(fullScreenAction_, &QAction::toggled, this,
          [this](bool on) { on ? showFullScreen() : showNormal(); });
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  fileMenu_ = file;
  file->addAction(openAction_);
  file->addAction(openFolderAction_);
  recentMenu_ = file->addMenu(tr("Open &Recent"));
  file->addSeparator();
  file->addAction(nextImageAction_);
  file->addAction(previousImageAction_);
  file->addSeparator();
  file->addAction(exportAction_);
  file->addAction(copyAction_);
  file->addSeparator();
  file->addAction(quitAction_);

  const ViewerActions* va = viewerActions_;
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
  view->addAction(fullScreenAction_);

  QMenu* image = menuBar()->addMenu(tr("&Image"));
  image->addAction(va->invert);
  image->addAction(windowEntryAction_);
  image->addAction(va->resetWindow);
  image->addMenu(va->presetMenu());
  image->addSeparator();
  image->addAction(va->nextFrame);
  image->addAction(va->previousFrame);
  image->addSeparator();
  image->addAction(tagsAction_);
  image->addSeparator();
  image->addAction(tr("Image &Size Limits…"), this, [this] { ImageBudgetDialog(this).exec(); });

  QMenu* tools = menuBar()->addMenu(tr("&Tools"));
  for (QAction* a : va->toolActions())
    tools->addAction(a);
  tools->addSeparator();
  tools->addAction(va->deleteMeasurement);
  tools->addAction(va->clearMeasurements);

  helpMenu_ = menuBar()->addMenu(tr("&Help"));
  helpMenu_->addAction(shortcutsAction_);
  helpMenu_->addAction(aboutAction_);
}

void MainWindow::addFileMenuAction(QAction* action) {
  fileMenu_->insertAction(quitAction_, action);
  fileMenu_->insertSeparator(quitAction_);
}

QMenu* MainWindow::addMenuBeforeHelp(const QString& title) {
  auto* menu = new QMenu(title, menuBar());
  menuBar()->insertMenu(helpMenu_->menuAction(), menu);
  return menu;
}

void MainWindow::createToolBar() {
  QToolBar* bar = addToolBar(tr("Tools"));
  bar->setObjectName(QStringLiteral("mainToolBar"));
  bar->setIconSize(QSize(22, 22));
  bar->addAction(openAction_);
  bar->addAction(openFolderAction_);
  bar->addSeparator();
  const ViewerActions* va = viewerActions_;
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
  bar->addAction(windowEntryAction_);
  bar->addAction(va->resetView);
  bar->addSeparator();
  bar->addAction(va->magnifier);
  bar->addAction(va->anonymised);
  bar->addAction(tagsAction_);
  bar->addAction(exportAction_);
  // The viewer's actions are on the viewer widget (ViewerActions adds them). The window's own
  // plain-key shortcuts join them there, scoped like them: N or PageDown typed into the assistant's
  // question box, or pressed in its read-only transcript, must not act on the image; and Ctrl+C
  // there copies the selected text, not the view.
  for (QAction* a : {windowEntryAction_, nextImageAction_, previousImageAction_, copyAction_}) {
    a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    viewer_->addAction(a);
  }
}

void MainWindow::createStatusBar() {
  imageInfo_ = new QLabel(this);
  windowInfo_ = new QLabel(this);
  zoomInfo_ = new QLabel(this);
  cursorInfo_ = new QLabel(this);
  cursorInfo_->setMinimumWidth(220);
  statusBar()->addWidget(imageInfo_, 1);
  statusBar()->addPermanentWidget(cursorInfo_);
  statusBar()->addPermanentWidget(windowInfo_);
  statusBar()->addPermanentWidget(zoomInfo_);
  openingIndicator_ = new QProgressBar(this);
  openingIndicator_->setRange(0, 0);  // busy: a decoder says nothing about its progress
  openingIndicator_->setMaximumWidth(120);
  openingIndicator_->setAccessibleName(tr("Opening image"));
  openingIndicator_->hide();
  statusBar()->addPermanentWidget(openingIndicator_);
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
  const bool anonymised = viewer_->isAnonymised();
  if (currentFile_.isEmpty())
    setWindowTitle(tr("CXR Assistant"));
  else if (anonymised)
    setWindowTitle(tr("CXR Assistant (anonymised)"));
  else
    setWindowTitle(tr("%1 - CXR Assistant").arg(QFileInfo(currentFile_).fileName()));
}

void MainWindow::updateStatus() {
  const auto& image = viewer_->image();
  if (!image) {
    imageInfo_->setText(tr("No image. Open one with Ctrl+O or drop a file here."));
    windowInfo_->clear();
    zoomInfo_->clear();
    return;
  }
  QStringList parts;
  parts << image->formatName << tr("%1 x %2").arg(image->width).arg(image->height);
  if (image->frames > 1)
    parts << tr("frame %1/%2").arg(viewer_->frame() + 1).arg(image->frames);
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
  if (folderImages_.size() > 1)
    parts << tr("image %1 of %2 in folder").arg(folderIndex_ + 1).arg(folderImages_.size());
  imageInfo_->setText(parts.join(QStringLiteral("  ·  ")));
  const auto w = viewer_->currentWindow();
  windowInfo_->setText(tr("C %1  W %2%3")
                            .arg(w.center, 0, 'g', 6)
                            .arg(w.width, 0, 'g', 6)
                            .arg(viewer_->isInverted() ? tr("  inverted") : QString()));
  zoomInfo_->setText(tr("Zoom %1%").arg(viewer_->view().zoom() * 100.0, 0, 'f', 0));
}

// ---- Opening ---------------------------------------------------------------------------------

bool MainWindow::openFile(const QString& path) {
  if (opening_) {  // asked again (a drop, a key) while the event loop runs during a decode
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
  lastError_.clear();
  currentFile_ = QFileInfo(path).absoluteFilePath();
  viewer_->setImage(result.image);
  // Opening a file also lets PageDown/PageUp step through its folder, unless it already is the
  // folder being stepped through.
  if (!folderImages_.contains(currentFile_))
    openFolderListing(QFileInfo(currentFile_).absolutePath(), currentFile_);
  else
    folderIndex_ = static_cast<int>(folderImages_.indexOf(currentFile_));
  addRecentFile(currentFile_);
  viewer_->setFocus();  // the viewer's single-key shortcuts act on what was just opened
  updateTitle();
  updateStatus();
  updateActionStates();
  Q_EMIT imageOpened(currentFile_);
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
  opening_ = true;
  QApplication::setOverrideCursor(Qt::BusyCursor);
  statusBar()->showMessage(tr("Opening %1…").arg(QFileInfo(path).fileName()));
  openingIndicator_->show();
  worker->start();
  if (!worker->isFinished())
    loop.exec(QEventLoop::ExcludeUserInputEvents);
  worker->wait();  // also when the loop ended early (the application quitting)
  delete worker;
  openingIndicator_->hide();
  statusBar()->clearMessage();
  QApplication::restoreOverrideCursor();
  opening_ = false;
  return result;
}

void MainWindow::updateActionStates() {
  const auto& image = viewer_->image();
  for (QAction* a : {exportAction_, copyAction_, windowEntryAction_})
    a->setEnabled(image != nullptr);
  tagsAction_->setEnabled(image && !image->tags.empty());
  const bool inFolder = folderImages_.size() > 1;
  nextImageAction_->setEnabled(inFolder);
  previousImageAction_->setEnabled(inFolder);
}

bool MainWindow::openFolderListing(const QString& folder, const QString& selectPath) {
  QStringList images;
  for (const QString& p : cxr::viewer::listImagesInFolder(folder))
    images << QFileInfo(p).absoluteFilePath();
  folderImages_ = images;
  folderIndex_ = static_cast<int>(images.indexOf(selectPath));
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
  for (int i = 0; i < folderImages_.size(); ++i) {
    folderIndex_ = i;
    QString error;
    if (loadAndShow(folderImages_[i], &error)) {
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
               static_cast<int>(folderImages_.size()))
                .arg(QDir::toNativeSeparators(folder), firstError));
  return false;
}

void MainWindow::showNextImage() {
  if (folderImages_.isEmpty())
    return;
  const int next = folderIndex_ + 1;
  if (next >= folderImages_.size()) {
    statusBar()->showMessage(tr("Last image in the folder."), 3000);
    return;
  }
  folderIndex_ = next;
  if (!openFile(folderImages_[next]))
    updateStatus();  // the failed file keeps its place, so the next PageDown moves past it
}

void MainWindow::showPreviousImage() {
  if (folderImages_.isEmpty())
    return;
  const int previous = folderIndex_ - 1;
  if (previous < 0) {
    statusBar()->showMessage(tr("First image in the folder."), 3000);
    return;
  }
  folderIndex_ = previous;
  if (!openFile(folderImages_[previous]))
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
  recentFiles_.removeAll(path);
  recentFiles_.prepend(path);
  while (recentFiles_.size() > kMaxRecentFiles)
    recentFiles_.removeLast();
  QSettings().setValue(QStringLiteral("files/recent"), recentFiles_);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recentMenu_->clear();
  for (int i = 0; i < recentFiles_.size(); ++i) {
    const QString path = recentFiles_[i];
    QAction* a = recentMenu_->addAction(
        QStringLiteral("&%1 %2").arg(i + 1 < 10 ? QString::number(i + 1) : QStringLiteral("0"),
                                     QDir::toNativeSeparators(path)));
    connect(a, &QAction::triggered, this, [this, path] { openFile(path); });
  }
  if (recentFiles_.isEmpty()) {
    recentMenu_->addAction(tr("(none yet)"))->setEnabled(false);
    return;
  }
  recentMenu_->addSeparator();
  connect(recentMenu_->addAction(tr("Clear List")), &QAction::triggered, this, [this] {
    recentFiles_.clear();
    QSettings().setValue(QStringLiteral("files/recent"), recentFiles_);
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
  lastError_ = message;
  statusBar()->showMessage(message, 10000);
  // Non-blocking: the window stays usable (and tests and scripts are not stopped by a modal loop).
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setObjectName(QStringLiteral("errorMessage"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

// ---- Assistant panel -------------------------------------------------------------------------

void MainWindow::addMessageBar(QWidget* bar) {
  centralLayout_->insertWidget(centralLayout_->count() - 1, bar);
}

void MainWindow::setAssistantPanel(QWidget* panel) {
  if (assistantPanel_ == panel)
    return;
  delete assistantPanel_;
  assistantPanel_ = panel;
  if (!panel)
    return;
  splitter_->addWidget(panel);
  splitter_->setStretchFactor(0, 3);
  splitter_->setStretchFactor(1, 2);
  const QByteArray saved = QSettings().value(QStringLiteral("window/splitter")).toByteArray();
  if (saved.isEmpty() || !splitter_->restoreState(saved)) {
    // 3:2 for the image. Set again once the window has its real size (it may not be shown yet,
    // and then the splitter's width is not the one the user will see).
    auto share = [splitter = splitter_] {
      const int total = std::max(1000, splitter->width());
      splitter->setSizes({total * 3 / 5, total * 2 / 5});
    };
    share();
    QTimer::singleShot(0, splitter_, share);
  }
}

// ---- Export, dialogs -------------------------------------------------------------------------

void MainWindow::exportViewDialog() {
  if (!viewer_->hasImage())
    return;
  const QString dir = QSettings().value(QStringLiteral("files/exportDir"),
                                        QFileInfo(currentFile_).absolutePath()).toString();
  // In anonymised mode the suggested name must not carry the (possibly identifying) file name.
  const QString base = viewer_->isAnonymised() ? QStringLiteral("view")
                                                : QFileInfo(currentFile_).completeBaseName() +
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
  if (!viewer_->hasImage())
    return false;
  QImageWriter writer(pngPath, "png");
  if (!writer.write(viewer_->renderView())) {
    showError(tr("Cannot export view"), tr("Cannot write %1: %2")
                                           .arg(QDir::toNativeSeparators(pngPath),
                                                writer.errorString()));
    return false;
  }
  statusBar()->showMessage(tr("View saved to %1").arg(QDir::toNativeSeparators(pngPath)), 5000);
  return true;
}

void MainWindow::copyViewToClipboard() {
  if (!viewer_->hasImage())
    return;
  QGuiApplication::clipboard()->setImage(viewer_->renderView());
  statusBar()->showMessage(tr("View copied to the clipboard."), 3000);
}

void MainWindow::showTagBrowser() {
  const auto& image = viewer_->image();
  if (!image)
    return;
  auto* dialog = new cxr::viewer::TagBrowserDialog(*image, viewer_->isAnonymised(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->show();
}

void MainWindow::showWindowEntry() {
  const auto& image = viewer_->image();
  if (!image)
    return;
  const cxr::viewer::VoiSelection before = viewer_->voi();
  auto* dialog = new cxr::viewer::WindowEntryDialog(viewer_->currentWindow(), image->minModality(),
                                                    image->maxModality(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &cxr::viewer::WindowEntryDialog::windowEdited, viewer_,
          &ViewerWidget::setWindow);  // live preview
  connect(dialog, &QDialog::rejected, viewer_, [viewer = viewer_, before] {
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
  recentFiles_ = s.value(QStringLiteral("files/recent")).toStringList();
  rebuildRecentMenu();
  viewerActions_->overlays->setChecked(s.value(QStringLiteral("viewer/overlays"), true).toBool());
  viewerActions_->anonymised->setChecked(
      s.value(QStringLiteral("viewer/anonymised"), false).toBool());
  viewerActions_->magnifier->setChecked(s.value(QStringLiteral("viewer/magnifier"), false).toBool());
}

void MainWindow::writeSettings() const {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
  if (assistantPanel_)
    s.setValue(QStringLiteral("window/splitter"), splitter_->saveState());
  s.setValue(QStringLiteral("files/recent"), recentFiles_);
  s.setValue(QStringLiteral("viewer/overlays"), viewer_->overlaysVisible());
  s.setValue(QStringLiteral("viewer/anonymised"), viewer_->isAnonymised());
  s.setValue(QStringLiteral("viewer/magnifier"), viewer_->magnifierEnabled());
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
  if (watched == viewer_ && event->type() == QEvent::Resize)
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
    if (!lastError_.isEmpty())
      qWarning("%s", qPrintable(lastError_));
    QCoreApplication::exit(saved && lastError_.isEmpty() ? 0 : 1);
  });
}

}  // namespace cxr::app
