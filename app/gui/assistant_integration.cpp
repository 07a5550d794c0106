#include "assistant_integration.h"

#include "batch_dialog.h"
#include "main_window.h"
#include "model_image_feed.h"

#include "cxr/assistant/model_backend.h"
#include "cxr/assistant/prompting.h"
#include "cxr/assistant/question_box.h"
#include "cxr/viewer/viewer_widget.h"

#include <QAction>
#include <QActionGroup>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>

namespace cxr::app {

using cxr::assistant::AssistantEngine;
using cxr::assistant::ChatPanel;
using cxr::assistant::ExportDocument;
using cxr::assistant::ExportFormat;
using cxr::assistant::HistoryStore;

namespace {

const QString kModelFolderKey = QStringLiteral("model/folder");
const QString kWeightsKey = QStringLiteral("model/weights");  // LoadSettings::weights

// Closing the window saves the panel's settings with the window's.
class CloseWatcher : public QObject {
 public:
  CloseWatcher(QObject* parent, std::function<void()> onClose)
      : QObject(parent), onClose_(std::move(onClose)) {}
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (event->type() == QEvent::Close)
      onClose_();
    return QObject::eventFilter(watched, event);
  }

 private:
  std::function<void()> onClose_;
};

}  // namespace

AssistantIntegration::AssistantIntegration(MainWindow& window,
                                           std::unique_ptr<cxr::assistant::EngineBackend> backend,
                                           const QString& historyPath)
    : QObject(&window), window_(window) {
  history_ = std::make_unique<HistoryStore>(historyPath.isEmpty() ? HistoryStore::defaultPath() : historyPath);
  // The assistant works whatever the history's state; a history that cannot be read or written
  // (damaged, truncated, read-only, a failed write) is said in a bar across the window until the
  // user acts on it.
  historyBanner_ = new cxr::assistant::HistoryBanner(*history_, &window);
  window.addMessageBar(historyBanner_);
  history_->setWriteFailureHandler([banner = QPointer(historyBanner_)](const QString& message) {
    qWarning("%s", qPrintable(message));
    if (banner)
      banner->showWriteFailure(message);
  });
  engine_ = std::make_unique<AssistantEngine>(backend ? std::move(backend)
                                                      : cxr::assistant::createModelBackend());
  panel_ = new ChatPanel(*engine_, history_.get());
  connect(historyBanner_, &cxr::assistant::HistoryBanner::historyReplaced, panel_, &ChatPanel::forgetStoredIds);
  panel_->setObjectName(QStringLiteral("assistantPanel"));
  panel_->restoreSettings();
  window.setAssistantPanel(panel_);

  modelStatus_ = new QLabel(tr("Model not loaded"), &window);
  modelStatus_->setObjectName(QStringLiteral("modelStatus"));
  window.statusBar()->addPermanentWidget(modelStatus_);
  connect(panel_, &ChatPanel::modelStatusChanged, modelStatus_, [this](const QString& text) {
    // The status bar is shared with the image and cursor readouts: model, device, dtype, threads
    // and memory; the weight size and the folder (long) are in the tooltip and in the panel.
    QStringList parts = text.split(QStringLiteral(" · "));
    if (parts.size() > 1 && (parts.last().contains(u'/') || parts.last().contains(u'\\')))
      parts.removeLast();
    parts.removeIf([](const QString& part) { return part.startsWith(QStringLiteral("weights ")); });
    modelStatus_->setText(parts.join(QStringLiteral(" · ")));
    modelStatus_->setToolTip(text);
  });
  connect(engine_.get(), &AssistantEngine::modelLoaded, this,
          [this](const cxr::assistant::ModelSummary& summary) {
            // A folder the user chose (menu, the panel's button) or that was found in the cache
            // loads again at the next start; one given for a single run (--model, the environment
            // variable) does not replace it.
            if (rememberLoadedFolder_)
              QSettings().setValue(kModelFolderKey, QString::fromStdString(summary.info.folder));
            rememberLoadedFolder_ = true;
          });

  // What the model sees follows the image on screen.
  cxr::viewer::ViewerWidget* viewer = window.viewer();
  connect(&window, &MainWindow::imageOpened, this, [this] {
    window_.viewer()->setRegionOutline({});
    feedImage(/*newFile=*/true);
  });
  connect(viewer, &cxr::viewer::ViewerWidget::frameChanged, this, [this] {
    // A new file also starts at a frame; imageOpened follows and feeds it with the new hash.
    if (window_.viewer()->image().get() == fedImage_ && window_.viewer()->frame() != fedFrame_)
      feedImage(false);
  });
  windowDebounce_.setSingleShot(true);
  windowDebounce_.setInterval(250);
  connect(&windowDebounce_, &QTimer::timeout, this, [this] {
    const auto& image = window_.viewer()->image();
    if (image.get() == fedImage_ &&
        describeVoi(*image, window_.viewer()->voi(), QStringLiteral("on screen")) != source_.currentWindowText)
      feedImage(false);
  });
  connect(viewer, &cxr::viewer::ViewerWidget::windowChanged, &windowDebounce_,
          qOverload<>(&QTimer::start));
  connect(panel_, &ChatPanel::cropRectChanged, viewer, [viewer](const QRectF& rect) {
    // Outline the square the model sees only when something is cut away; around the whole image it
    // says nothing and its label would sit on the corner overlay.
    const auto& image = viewer->image();
    const bool whole = image && rect.adjusted(-1, -1, 1, 1).contains(QRectF(0, 0, image->width, image->height));
    viewer->setRegionOutline(whole ? QRectF() : rect, tr("model input"));
  });
  connect(panel_, &ChatPanel::reopenImageRequested, &window, [this](const QString& path) {
    if (QFileInfo(path).absoluteFilePath() != window_.currentFile())
      window_.openFile(path);
  });

  window.installEventFilter(new CloseWatcher(this, [this] {
    if (panel_)
      panel_->saveSettings();
  }));
  createMenu();
}

AssistantIntegration::~AssistantIntegration() {
  // The panel talks to the engine until it is gone; the engine's destructor then stops whatever
  // still runs and joins its thread.
  delete panel_;
  engine_.reset();
}

QString AssistantIntegration::savedModelFolder() {
  return QSettings().value(kModelFolderKey).toString();
}

bool AssistantIntegration::loadModelAtStart() {
  const QString saved = savedModelFolder();
  const bool fromEnvironment = qEnvironmentVariableIsSet("CXR_LLAVA_MODEL");
  if (!fromEnvironment && !saved.isEmpty() && QFileInfo(saved).isDir()) {
    panel_->loadModel(saved);
    return true;
  }
  rememberLoadedFolder_ = !fromEnvironment;
  const bool found = panel_->loadDiscoveredModel();
  if (!found)
    rememberLoadedFolder_ = true;
  return found;
}

void AssistantIntegration::loadModelForThisRun(const QString& folder) {
  rememberLoadedFolder_ = false;
  panel_->loadModel(folder);
}

void AssistantIntegration::useModelFolder(const QString& folder) {
  QSettings().setValue(kModelFolderKey, folder);
  panel_->loadModel(folder);
}

void AssistantIntegration::chooseModelFolder() {
  const QString folder = QFileDialog::getExistingDirectory(
      &window_, tr("Choose the CXR-LLaVA model folder (config.json, weights, tokenizer.model)"),
      savedModelFolder());
  if (!folder.isEmpty())
    useModelFolder(folder);
}

void AssistantIntegration::feedImage(bool newFile) {
  const auto& image = window_.viewer()->image();
  if (!image || !panel_)
    return;
  if (newFile) {
    QString error;
    sha256_ = fileSha256(window_.currentFile(), &error);
    if (sha256_.isEmpty())
      window_.statusBar()->showMessage(error, 10000);
  }
  fedImage_ = image.get();
  fedFrame_ = window_.viewer()->frame();
  source_ = makeModelImageSource(*image, fedFrame_, window_.viewer()->voi(), sha256_);
  source_.filePath = window_.currentFile();
  panel_->setImageSource(source_);
  Q_EMIT imageSourceChanged(source_);
}

void AssistantIntegration::exportWithDialog(ExportFormat format, ExportDocument::Scope scope) {
  const char* suffix = format == ExportFormat::Pdf ? "pdf" : format == ExportFormat::Markdown ? "md" : "txt";
  // The suggested name carries the image's file name only when identifying fields are wanted.
  const QString base = includeIdentifying_->isChecked() && !window_.currentFile().isEmpty()
                           ? QFileInfo(window_.currentFile()).completeBaseName() + u"_assistant"
                           : QStringLiteral("cxr_assistant");
  const QString dir = QSettings().value(QStringLiteral("files/exportDir"), QDir::homePath()).toString();
  const QString path = QFileDialog::getSaveFileName(
      &window_, tr("Export"), QDir(dir).filePath(base + u'.' + QLatin1String(suffix)),
      format == ExportFormat::Pdf        ? tr("PDF (*.pdf)")
      : format == ExportFormat::Markdown ? tr("Markdown (*.md)")
                                         : tr("Plain text (*.txt)"));
  if (path.isEmpty())
    return;
  QSettings().setValue(QStringLiteral("files/exportDir"), QFileInfo(path).absolutePath());
  QString error;
  if (!panel_->exportTo(path, format, scope, &error))
    QMessageBox::warning(&window_, tr("Export failed"), error);
  else
    window_.statusBar()->showMessage(tr("Exported to %1").arg(QDir::toNativeSeparators(path)), 5000);
}

BatchDialog* AssistantIntegration::showBatchDialog() {
  if (!batchDialog_) {
    batchDialog_ = new BatchDialog(*engine_, &window_);
    connect(batchDialog_, &BatchDialog::openResultRequested, this,
            [this](const cxr::assistant::DatasetResultRow& row, const QString& path) {
              // The image in the viewer (which feeds the panel), then its question and answer shown as a
              // conversation reopened from the history is: the next question continues it.
              if (QFileInfo(path).absoluteFilePath() != window_.currentFile() && !window_.openFile(path))
                return;
              cxr::assistant::ConversationRecord record;
              record.title = QStringLiteral("%1 · %2").arg(row.image, row.task);
              record.image = {QFileInfo(path).absoluteFilePath(), row.imageSha256, row.window};
              cxr::assistant::MessageRecord question, answer;
              question.role = QStringLiteral("user");
              question.content = cxr::assistant::displayedUserMessage(row.prompt);
              question.sentMessage = row.prompt;
              answer.role = QStringLiteral("assistant");
              answer.content = row.text;
              cxr::assistant::SamplingSettings sampling;  // as the run drew it (its seed shown with the answer)
              sampling.temperature = row.sampling.value(u"temperature").toDouble(sampling.temperature);
              sampling.topP = row.sampling.value(u"top_p").toDouble(sampling.topP);
              sampling.topK = row.sampling.value(u"top_k").toInt(sampling.topK);
              sampling.maxNewTokens = row.sampling.value(u"max_new_tokens").toInt(sampling.maxNewTokens);
              bool seeded = false;
              const quint64 seed = row.seed.toULongLong(&seeded);
              if (seeded) sampling.seed = seed;
              answer.sampling = sampling;
              record.messages = {question, answer};
              panel_->restoreConversation(record);
            });
  }
  batchDialog_->show();
  batchDialog_->raise();
  batchDialog_->activateWindow();
  return batchDialog_;
}

// Assistant > Decoder Weights: bf16 as published, int8, int4, or automatic (bf16 unless the memory
// cannot hold it). Saved; a change reloads the loaded model with the new weights (the first use of
// int8 / int4 makes their cache file, minutes for a 7B model, with the load's progress and cancel).
void AssistantIntegration::createWeightsMenu(QMenu* menu) {
  QMenu* weights = menu->addMenu(tr("Decoder &Weights"));
  weights->setObjectName(QStringLiteral("decoderWeightsMenu"));
  auto* group = new QActionGroup(weights);
  const QString saved = QSettings().value(kWeightsKey, QStringLiteral("auto")).toString();
  const struct {
    QString value, label, tip;
  } choices[] = {
      {QStringLiteral("auto"), tr("&Automatic"), tr("bf16, or int8 when this computer's memory cannot hold bf16")},
      {QStringLiteral("bf16"), tr("&bf16 (as Published)"), tr("The reference's precision; a 7B model needs about 14 GB")},
      {QStringLiteral("int8"), tr("&int8"), tr("About half the memory; answers very close to bf16")},
      {QStringLiteral("int4"), tr("int&4"), tr("About a third of the memory, fastest; answers may differ more")},
  };
  for (const auto& c : choices) {
    QAction* a = weights->addAction(c.label);
    a->setCheckable(true);
    a->setData(c.value);
    a->setToolTip(c.tip);
    a->setObjectName(QStringLiteral("weights_") + c.value);
    group->addAction(a);
    if (c.value == saved) a->setChecked(true);
  }
  weights->setToolTipsVisible(true);
  panel_->setDecoderWeights(saved);
  connect(group, &QActionGroup::triggered, this, [this](QAction* a) {
    const QString value = a->data().toString();
    if (value == panel_->decoderWeights()) return;
    QSettings().setValue(kWeightsKey, value);
    panel_->setDecoderWeights(value);
    if (engine_->isModelLoaded() && !engine_->isBusy()) {
      rememberLoadedFolder_ = true;
      panel_->loadModel(QString::fromStdString(engine_->model().info.folder));
    } else {
      window_.statusBar()->showMessage(tr("Decoder weights %1: used from the next model load").arg(value), 10000);
    }
  });
}

void AssistantIntegration::createMenu() {
  batchAction_ = new QAction(tr("&Batch..."), this);
  batchAction_->setObjectName(QStringLiteral("batchAction"));
  batchAction_->setStatusTip(tr("Run the assistant over a folder or a manifest of images, and evaluate the results"));
  connect(batchAction_, &QAction::triggered, this, [this] { showBatchDialog(); });
  window_.addFileMenuAction(batchAction_);
  QMenu* menu = window_.addMenuBeforeHelp(tr("&Assistant"));
  auto add = [&](const QString& text, const QKeySequence& key, auto&& slot) {
    QAction* a = menu->addAction(text);
    a->setShortcut(key);
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  QAction* report = add(tr("Write &Report"), QKeySequence(tr("Ctrl+R")), [this] { panel_->writeReport(); });
  QAction* differential = add(tr("&Differential Diagnosis"), QKeySequence(tr("Ctrl+Shift+D")),
                              [this] { panel_->differentialDiagnosis(); });
  QAction* ask = add(tr("&Ask a Question"), QKeySequence(tr("Ctrl+L")), [this] {
    panel_->questionBox()->setFocus();
  });
  QAction* stop = add(tr("&Stop"), QKeySequence(tr("Ctrl+.")), [this] { panel_->stop(); });
  menu->addSeparator();
  QAction* fresh = add(tr("&New Conversation"), QKeySequence(tr("Ctrl+Shift+N")),
                       [this] { panel_->newConversation(); });
  add(tr("&History…"), QKeySequence(tr("Ctrl+H")), [this] { panel_->showHistory(); });
  QMenu* exportMenu = menu->addMenu(tr("&Export"));
  const struct {
    QString label;
    ExportFormat format;
    ExportDocument::Scope scope;
  } exports[] = {
      {tr("Report as Plain &Text…"), ExportFormat::PlainText, ExportDocument::Scope::Report},
      {tr("Report as &Markdown…"), ExportFormat::Markdown, ExportDocument::Scope::Report},
      {tr("Report as &PDF…"), ExportFormat::Pdf, ExportDocument::Scope::Report},
      {tr("Conversation as Plain Te&xt…"), ExportFormat::PlainText, ExportDocument::Scope::Conversation},
      {tr("Conversation as Mar&kdown…"), ExportFormat::Markdown, ExportDocument::Scope::Conversation},
      {tr("Conversation as P&DF…"), ExportFormat::Pdf, ExportDocument::Scope::Conversation},
  };
  for (int i = 0; i < 6; ++i) {
    if (i == 3)
      exportMenu->addSeparator();
    const auto e = exports[i];
    connect(exportMenu->addAction(e.label), &QAction::triggered, this,
            [this, e] { exportWithDialog(e.format, e.scope); });
  }
  includeIdentifying_ = menu->addAction(tr("&Include Identifying Fields in Exports"));
  includeIdentifying_->setCheckable(true);
  includeIdentifying_->setChecked(false);  // anonymised unless opted in, every session
  includeIdentifying_->setToolTip(tr("Patient name, ID and dates in exported documents"));
  connect(includeIdentifying_, &QAction::toggled, this,
          [this](bool on) { panel_->setIncludeIdentifyingInExports(on); });
  QAction* prepare = menu->addAction(tr("&Prepare the Model While I Look at an Image"));
  prepare->setObjectName(QStringLiteral("prepareWhileLooking"));
  prepare->setCheckable(true);
  prepare->setChecked(panel_->prepareWhileLooking());
  prepare->setToolTip(tr("Read each opened image with the model in the background, so that its first answer "
                         "starts within seconds"));
  connect(prepare, &QAction::toggled, this, [this](bool on) { panel_->setPrepareWhileLooking(on); });
  // The status bar says what the preparation does.
  connect(engine_.get(), &AssistantEngine::preparationStatus, this, [this](const QString& text) {
    QStatusBar* bar = window_.statusBar();
    if (!text.isEmpty()) bar->showMessage(text, text.startsWith(tr("Preparing")) ? 0 : 10000);
    else if (bar->currentMessage().startsWith(tr("Preparing"))) bar->clearMessage();  // leave others' messages
  });
  menu->addSeparator();
  add(tr("Choose &Model Folder…"), QKeySequence(), [this] { chooseModelFolder(); });
  createWeightsMenu(menu);

  // Requests need a model and an image, and only one runs at a time.
  auto update = [this, report, differential, ask, stop, fresh] {
    const bool ready = engine_->isModelLoaded() && !engine_->isBusy() && !source_.isNull();
    report->setEnabled(ready);
    differential->setEnabled(ready);
    ask->setEnabled(ready);
    stop->setEnabled(engine_->isBusy());
    fresh->setEnabled(!engine_->isBusy());
  };
  connect(engine_.get(), &AssistantEngine::busyChanged, this, update);
  connect(engine_.get(), &AssistantEngine::modelLoaded, this, update);
  connect(this, &AssistantIntegration::imageSourceChanged, this, update);
  update();
}

}  // namespace cxr::app
