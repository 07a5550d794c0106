#include "batch_dialog.h"

#include "image_budget.h"

#include "model_image_feed.h"

#include "cxr/assistant/evaluation_report.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QThread>
#include <QUrl>
#include <QVBoxLayout>

namespace cxr::app {

using cxr::assistant::DatasetProgressEvent;
using cxr::assistant::DatasetResultRow;
using cxr::assistant::DatasetRunSettings;
using cxr::assistant::DatasetRunSummary;

namespace {

QHBoxLayout* withBrowse(QLineEdit* edit, QPushButton* browse) {
  auto* row = new QHBoxLayout;
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(edit, 1);
  row->addWidget(browse);
  return row;
}

}  // namespace

BatchDialog::BatchDialog(cxr::assistant::AssistantEngine& engine, QWidget* parent) : QDialog(parent) {
  setObjectName(QStringLiteral("batchDialog"));
  setWindowTitle(tr("Batch: run the assistant over a dataset"));
  session_ = new cxr::assistant::DatasetRunSession(
      engine, [](const QString& path, const QString& window) { return readDatasetImage(path, window, imageLoadOptions()); },
      this);
  results_ = new cxr::assistant::DatasetResultsModel(this);
  openUrl_ = [](const QUrl& url) { QDesktopServices::openUrl(url); };
  buildUi();

  connect(session_, &cxr::assistant::DatasetRunSession::notice, this, [this](const QString& text) {
    notes_->setText(notes_->text().isEmpty() ? text : notes_->text() + u'\n' + text);
    notes_->setVisible(true);
  });
  connect(session_, &cxr::assistant::DatasetRunSession::started, this, [this](int pending, int total) {
    progress_->setRange(0, qMax(total, 1));
    progress_->setValue(total - pending);
    progress_->setFormat(tr("%v/%m items"));
    rate_->setText(pending == 0 ? tr("nothing left to do") : tr("%1 item(s) to do · --  items/min · ETA --:--").arg(pending));
  });
  connect(session_, &cxr::assistant::DatasetRunSession::resultArrived, results_, &cxr::assistant::DatasetResultsModel::addRow);
  connect(session_, &cxr::assistant::DatasetRunSession::progress, this, [this](const DatasetProgressEvent& e) {
    progress_->setRange(0, qMax(e.totalItems, 1));
    progress_->setValue(e.doneItems);
    rate_->setText(cxr::assistant::DatasetRunSession::progressText(e));
  });
  connect(session_, &cxr::assistant::DatasetRunSession::finished, this, [this](const DatasetRunSummary& s) {
    if (!s.ok())
      showMessage(s.error, true);
    else if (s.stopped)
      showMessage(tr("Stopped: %1 result(s) written this time. Start continues where it stopped.").arg(s.written), false);
    else
      showMessage(tr("Done: %1 result(s) written, %2 already there, %3 image(s) could not be read (errors.csv).")
                      .arg(s.written)
                      .arg(s.skipped)
                      .arg(s.failed),
                  false);
    updateEnabled();
    Q_EMIT runFinished(s);
  });
  connect(&engine, &cxr::assistant::AssistantEngine::busyChanged, this, [this] { updateEnabled(); });
  updateEnabled();
}

BatchDialog::~BatchDialog() {
  session_->stop();
  if (evalThread_) {
    evalThread_->wait();
    delete evalThread_;
  }
}

void BatchDialog::buildUi() {
  // ---- What to run ----
  auto* inputBox = new QGroupBox(tr("Images and tasks"), this);
  auto* inputForm = new QFormLayout(inputBox);
  imagesKind_ = new QRadioButton(tr("Folder of images"), inputBox);
  manifestKind_ = new QRadioButton(tr("Manifest CSV (ours, CheXpert / MIMIC-CXR-JPG, NIH)"), inputBox);
  imagesKind_->setChecked(true);
  auto* kinds = new QHBoxLayout;
  kinds->addWidget(imagesKind_);
  kinds->addWidget(manifestKind_);
  kinds->addStretch();
  inputForm->addRow(tr("Input:"), kinds);
  input_ = new QLineEdit(inputBox);
  input_->setObjectName(QStringLiteral("batchInput"));
  input_->setPlaceholderText(tr("a folder (every image below it) or a CSV with a path column"));
  auto* inputBrowse = new QPushButton(tr("Browse..."), inputBox);
  inputForm->addRow(tr("Path:"), withBrowse(input_, inputBrowse));
  imageRoot_ = new QLineEdit(inputBox);
  imageRoot_->setPlaceholderText(tr("where relative paths / NIH file names are (default: the CSV's folder)"));
  imageRootBrowse_ = new QPushButton(tr("Browse..."), inputBox);
  inputForm->addRow(tr("Image root:"), withBrowse(imageRoot_, imageRootBrowse_));
  report_ = new QCheckBox(tr("Report"), inputBox);
  report_->setChecked(true);
  differential_ = new QCheckBox(tr("Differential diagnosis"), inputBox);
  control_ = new QCheckBox(tr("Control images (mid-gray, noise)"), inputBox);
  control_->setToolTip(tr("Also runs each task once on a uniform gray and a seeded noise image: is the model looking at the image?"));
  auto* taskRow = new QHBoxLayout;
  taskRow->addWidget(report_);
  taskRow->addWidget(differential_);
  taskRow->addWidget(control_);
  taskRow->addStretch();
  inputForm->addRow(tr("Tasks:"), taskRow);
  questions_ = new QPlainTextEdit(inputBox);
  questions_->setPlaceholderText(tr("Questions to ask about every image, one per line (optional)"));
  questions_->setFixedHeight(questions_->fontMetrics().lineSpacing() * 4 + 12);
  inputForm->addRow(tr("Questions:"), questions_);

  // ---- Where and how ----
  auto* outBox = new QGroupBox(tr("Output and sampling"), this);
  auto* outForm = new QFormLayout(outBox);
  out_ = new QLineEdit(outBox);
  out_->setObjectName(QStringLiteral("batchOutput"));
  out_->setPlaceholderText(tr("results.jsonl, errors.csv and run.json go here"));
  auto* outBrowse = new QPushButton(tr("Browse..."), outBox);
  outForm->addRow(tr("Output folder:"), withBrowse(out_, outBrowse));
  seed_ = new QLineEdit(QStringLiteral("0"), outBox);
  seed_->setToolTip(tr("Each (image, task) draws its own seed from this and the image's hash"));
  temperature_ = new QDoubleSpinBox(outBox);
  temperature_->setRange(0, 5);
  temperature_->setSingleStep(0.1);
  temperature_->setValue(0.2);
  topP_ = new QDoubleSpinBox(outBox);
  topP_->setRange(0.01, 1);
  topP_->setSingleStep(0.05);
  topP_->setValue(0.8);
  topK_ = new QSpinBox(outBox);
  topK_->setRange(0, 1000000);
  topK_->setValue(50);
  topK_->setSpecialValueText(tr("off"));
  maxTokens_ = new QSpinBox(outBox);
  maxTokens_->setRange(0, 65536);
  maxTokens_->setValue(0);
  maxTokens_->setSpecialValueText(tr("reference rule (up to 512)"));
  auto* sampling = new QHBoxLayout;
  for (auto [label, w] : {std::pair<QString, QWidget*>{tr("Seed"), seed_}, {tr("Temperature"), temperature_},
                          {tr("Top-p"), topP_}, {tr("Top-k"), topK_}}) {
    sampling->addWidget(new QLabel(label, outBox));
    sampling->addWidget(w);
  }
  seed_->setMaximumWidth(seed_->fontMetrics().horizontalAdvance(QStringLiteral("000000000000")));
  outForm->addRow(tr("Sampling:"), sampling);
  window_ = new QComboBox(outBox);
  window_->addItem(tr("the file's default window (as the viewer)"), QStringLiteral("default"));
  window_->addItem(tr("full range"), QStringLiteral("full"));
  auto* lengthRow = new QHBoxLayout;
  lengthRow->addWidget(maxTokens_);
  lengthRow->addWidget(new QLabel(tr("Window:"), outBox));
  lengthRow->addWidget(window_, 1);
  outForm->addRow(tr("Max new tokens:"), lengthRow);

  // ---- Evaluate ----
  auto* evalBox = new QGroupBox(tr("Evaluate against labels (cxr-batch eval)"), this);
  auto* evalForm = new QFormLayout(evalBox);
  labels_ = new QLineEdit(evalBox);
  labels_->setPlaceholderText(tr("a CheXpert-style label CSV (id or Path column, the six findings)"));
  auto* labelsBrowse = new QPushButton(tr("Browse..."), evalBox);
  evalForm->addRow(tr("Labels CSV:"), withBrowse(labels_, labelsBrowse));
  uncertain_ = new QComboBox(evalBox);
  for (const char* p : {"negative", "positive", "ignore"}) uncertain_->addItem(QString::fromLatin1(p));
  evalTask_ = new QComboBox(evalBox);
  evalTask_->setEditable(true);
  evalTask_->addItem(QStringLiteral("report"));
  auto* evalRow = new QHBoxLayout;
  evalRow->addWidget(uncertain_);
  evalRow->addWidget(new QLabel(tr("Task:"), evalBox));
  evalRow->addWidget(evalTask_, 1);
  evalForm->addRow(tr("Uncertain (-1) counts as:"), evalRow);
  evalControl_ = new QLineEdit(evalBox);
  evalControl_->setPlaceholderText(tr("optional: results of a run with control images"));
  auto* controlBrowse = new QPushButton(tr("Browse..."), evalBox);
  evalForm->addRow(tr("Control folder:"), withBrowse(evalControl_, controlBrowse));
  evaluate_ = new QPushButton(tr("Evaluate..."), evalBox);
  evaluate_->setObjectName(QStringLiteral("batchEvaluate"));
  evalMessage_ = new QLabel(evalBox);
  evalMessage_->setWordWrap(true);
  evalMessage_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* evalButtons = new QHBoxLayout;
  evalButtons->addWidget(evaluate_);
  evalButtons->addWidget(evalMessage_, 1);
  evalForm->addRow(evalButtons);

  // ---- Run ----
  start_ = new QPushButton(tr("Start"), this);
  start_->setObjectName(QStringLiteral("batchStart"));
  start_->setDefault(true);
  stop_ = new QPushButton(tr("Stop"), this);
  stop_->setObjectName(QStringLiteral("batchStop"));
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setFormat(tr("%v/%m items"));
  rate_ = new QLabel(this);
  rate_->setMinimumWidth(rate_->fontMetrics().horizontalAdvance(QStringLiteral("0000/0000 items · 00.00 items/min · ETA 00:00:00")));
  message_ = new QLabel(this);
  message_->setObjectName(QStringLiteral("batchMessage"));
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  message_->setVisible(false);
  notes_ = new QLabel(this);
  notes_->setWordWrap(true);
  notes_->setStyleSheet(QStringLiteral("color: palette(mid);"));
  notes_->setVisible(false);
  auto* runRow = new QHBoxLayout;
  runRow->addWidget(start_);
  runRow->addWidget(stop_);
  runRow->addWidget(progress_, 1);
  runRow->addWidget(rate_);

  // ---- Results ----
  sorted_ = new QSortFilterProxyModel(this);
  sorted_->setSourceModel(results_);
  sorted_->setSortRole(Qt::UserRole);
  table_ = new QTableView(this);
  table_->setObjectName(QStringLiteral("batchResults"));
  table_->setModel(sorted_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(-1, Qt::AscendingOrder);  // arrival order until a header is clicked
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setSectionResizeMode(cxr::assistant::DatasetResultsModel::ImageColumn, QHeaderView::Interactive);
  table_->horizontalHeader()->setSectionResizeMode(cxr::assistant::DatasetResultsModel::FindingsColumn, QHeaderView::Stretch);
  table_->setColumnWidth(cxr::assistant::DatasetResultsModel::ImageColumn, 320);
  table_->setColumnWidth(cxr::assistant::DatasetResultsModel::TaskColumn, 160);
  table_->setToolTip(tr("Double-click a result to show its image and answer in the window"));
  auto* resultsBox = new QGroupBox(tr("Results (double-click to show the image and its answer)"), this);
  auto* resultsLayout = new QVBoxLayout(resultsBox);
  resultsLayout->addWidget(table_);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* top = new QHBoxLayout;
  top->addWidget(inputBox, 1);
  auto* right = new QVBoxLayout;
  right->addWidget(outBox);
  right->addWidget(evalBox);
  top->addLayout(right, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addLayout(runRow);
  layout->addWidget(message_);
  layout->addWidget(notes_);
  layout->addWidget(resultsBox, 1);
  layout->addWidget(buttons);
  resize(1200, 800);

  connect(imagesKind_, &QRadioButton::toggled, this, [this] { updateEnabled(); });
  connect(inputBrowse, &QPushButton::clicked, this, [this] {
    const QString path = imagesKind_->isChecked()
                             ? QFileDialog::getExistingDirectory(this, tr("Folder of images"), input_->text())
                             : QFileDialog::getOpenFileName(this, tr("Manifest CSV"), input_->text(), tr("CSV files (*.csv);;All files (*)"));
    if (!path.isEmpty()) input_->setText(QDir::toNativeSeparators(path));
  });
  connect(imageRootBrowse_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getExistingDirectory(this, tr("Image root"), imageRoot_->text());
    if (!path.isEmpty()) imageRoot_->setText(QDir::toNativeSeparators(path));
  });
  connect(outBrowse, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getExistingDirectory(this, tr("Output folder"), out_->text());
    if (!path.isEmpty()) setOutputFolder(path);
  });
  connect(out_, &QLineEdit::editingFinished, this, [this] {
    if (!session_->isRunning() && !out_->text().trimmed().isEmpty()) setOutputFolder(out_->text().trimmed());
  });
  connect(labelsBrowse, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Labels CSV"), labels_->text(), tr("CSV files (*.csv);;All files (*)"));
    if (!path.isEmpty()) labels_->setText(QDir::toNativeSeparators(path));
  });
  connect(controlBrowse, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getExistingDirectory(this, tr("Control run folder"), evalControl_->text());
    if (!path.isEmpty()) evalControl_->setText(QDir::toNativeSeparators(path));
  });
  connect(start_, &QPushButton::clicked, this, [this] { start(); });
  connect(stop_, &QPushButton::clicked, this, [this] { stop(); });
  connect(evaluate_, &QPushButton::clicked, this, [this] { evaluate(); });
  connect(table_, &QTableView::doubleClicked, this, &BatchDialog::onRowActivated);
}

void BatchDialog::updateEnabled() {
  const bool running = session_->isRunning();
  start_->setEnabled(!running);
  stop_->setEnabled(running);
  for (QWidget* w : std::initializer_list<QWidget*>{imagesKind_, manifestKind_, input_, report_, differential_, questions_,
                                                    control_, out_, seed_, temperature_, topP_, topK_, maxTokens_, window_})
    w->setEnabled(!running);
  imageRoot_->setEnabled(!running && manifestKind_->isChecked());
  imageRootBrowse_->setEnabled(!running && manifestKind_->isChecked());
  evaluate_->setEnabled(!evalThread_);
}

void BatchDialog::showMessage(const QString& text, bool error) {
  message_->setText(text);
  message_->setStyleSheet(error ? QStringLiteral("color: #b00020; font-weight: bold;") : QString());
  message_->setVisible(!text.isEmpty());
}

void BatchDialog::showEvaluationMessage(const QString& text, bool error) {
  evalMessage_->setText(text);
  evalMessage_->setStyleSheet(error ? QStringLiteral("color: #b00020; font-weight: bold;") : QString());
}

QString BatchDialog::message() const { return message_->text(); }
QString BatchDialog::evaluationMessage() const { return evalMessage_->text(); }

void BatchDialog::setImagesFolder(const QString& folder) {
  imagesKind_->setChecked(true);
  input_->setText(QDir::toNativeSeparators(folder));
  imageRoot_->clear();
}

void BatchDialog::setManifest(const QString& csv, const QString& imageRoot) {
  manifestKind_->setChecked(true);
  input_->setText(QDir::toNativeSeparators(csv));
  imageRoot_->setText(QDir::toNativeSeparators(imageRoot));
}

void BatchDialog::setTasks(bool report, bool differential, const QStringList& questions) {
  report_->setChecked(report);
  differential_->setChecked(differential);
  questions_->setPlainText(questions.join(u'\n'));
}

void BatchDialog::setSampling(quint64 seed, double temperature, double topP, int topK, int maxNewTokens) {
  seed_->setText(QString::number(seed));
  temperature_->setValue(temperature);
  topP_->setValue(topP);
  topK_->setValue(topK);
  maxTokens_->setValue(maxNewTokens);
}

void BatchDialog::setEvaluation(const QString& labelsCsv, const QString& uncertain, const QString& controlFolder) {
  labels_->setText(QDir::toNativeSeparators(labelsCsv));
  uncertain_->setCurrentText(uncertain);
  evalControl_->setText(QDir::toNativeSeparators(controlFolder));
}

bool BatchDialog::collectSettings(DatasetRunSettings* s, QString* error) const {
  s->inputKind = imagesKind_->isChecked() ? QStringLiteral("images") : QStringLiteral("manifest");
  const QString input = input_->text().trimmed();
  s->input = input.isEmpty() ? QString() : QFileInfo(input).absoluteFilePath();
  const QString root = imageRoot_->text().trimmed();
  s->imageRoot = manifestKind_->isChecked() && !root.isEmpty() ? QFileInfo(root).absoluteFilePath() : QString();
  QStringList specs;
  if (report_->isChecked()) specs << QStringLiteral("report");
  if (differential_->isChecked()) specs << QStringLiteral("differential");
  for (const QString& line : questions_->toPlainText().split(u'\n'))
    if (!line.trimmed().isEmpty()) specs << QStringLiteral("ask:") + line.trimmed();
  if (!specs.isEmpty()) {
    const auto tasks = cxr::assistant::parseDatasetTasks(specs, error);
    if (!tasks) {
      error->replace(QStringLiteral("--tasks: "), QStringLiteral("Tasks: "));
      return false;
    }
    s->tasks = *tasks;
  }
  bool ok = false;
  s->seed = seed_->text().trimmed().toULongLong(&ok);
  if (!ok) {
    *error = tr("Seed: \"%1\" is not a whole number from 0 to 18446744073709551615.").arg(seed_->text());
    return false;
  }
  // Through float, as cxr-batch run stores them: the same numbers resume the same run.
  s->sampling.temperature = float(temperature_->value());
  s->sampling.topP = float(topP_->value());
  s->sampling.topK = topK_->value();
  s->sampling.maxNewTokens = maxTokens_->value();
  s->window = window_->currentData().toString();
  s->control = control_->isChecked();
  const QString out = out_->text().trimmed();
  s->outDir = out.isEmpty() ? QString() : QFileInfo(out).absoluteFilePath();
  return true;
}

void BatchDialog::applyRunSettings(const QJsonObject& o) {
  const QString input = o.value(u"input").toString();
  const QString kind = input.section(u':', 0, 0), path = input.section(u':', 1);
  if (kind == QLatin1String("manifest")) setManifest(path, o.value(u"image_root").toString());
  else setImagesFolder(path);
  QStringList questions;
  bool report = false, differential = false;
  for (const QJsonValue& t : o.value(u"tasks").toArray()) {
    const QString name = t.toString();
    if (name == QLatin1String("report")) report = true;
    else if (name == QLatin1String("differential")) differential = true;
    else if (name.startsWith(u"ask:")) questions << name.mid(4);
  }
  setTasks(report, differential, questions);
  evalTask_->clear();
  for (const QJsonValue& t : o.value(u"tasks").toArray()) evalTask_->addItem(t.toString());
  setSampling(o.value(u"seed").toString().toULongLong(), o.value(u"temperature").toDouble(), o.value(u"top_p").toDouble(),
              o.value(u"top_k").toInt(), o.value(u"max_new_tokens").toInt());
  window_->setCurrentIndex(qMax(0, window_->findData(o.value(u"window").toString())));
  control_->setChecked(o.value(u"control").toBool());
}

void BatchDialog::reloadRows() {
  const QString out = out_->text().trimmed();
  const auto folder = cxr::assistant::readDatasetOutput(QFileInfo(out).absoluteFilePath());
  if (!folder.ok()) {
    showMessage(folder.error, true);
    results_->setRows({});
    return;
  }
  loadedRun_ = folder.hasRun ? folder.settings : QJsonObject();
  results_->setRows(folder.rows);
}

void BatchDialog::setOutputFolder(const QString& folder) {
  out_->setText(QDir::toNativeSeparators(folder));
  notes_->clear();
  notes_->setVisible(false);
  showMessage({}, false);
  reloadRows();
  if (!message_->text().isEmpty()) return;  // the folder's files could not be read
  if (!loadedRun_.isEmpty()) {
    applyRunSettings(loadedRun_);
    showMessage(tr("%1 holds a run with %2 result(s); its settings are shown. Start continues it.")
                    .arg(QDir::toNativeSeparators(folder))
                    .arg(results_->rowCount()),
                false);
  }
}

bool BatchDialog::start() {
  DatasetRunSettings settings;
  QString error;
  notes_->clear();
  notes_->setVisible(false);
  if (!collectSettings(&settings, &error)) {
    showMessage(error, true);
    return false;
  }
  // What earlier runs left (read before the run can add lines); new results are added as they arrive.
  if (!settings.outDir.isEmpty() && QFileInfo(settings.outDir).isDir()) reloadRows();
  if (!session_->start(settings, &error)) {
    showMessage(error, true);
    return false;
  }
  showMessage(tr("Running on the window's model..."), false);
  loadedRun_ = settings.resultSettings();
  evalTask_->clear();
  for (const auto& t : settings.tasks) evalTask_->addItem(t.name);
  progress_->setRange(0, 0);  // busy until the input is listed
  rate_->setText(tr("listing the input..."));
  updateEnabled();
  return true;
}

void BatchDialog::stop() {
  if (!session_->isRunning()) return;
  session_->stop();
  showMessage(tr("Stopping after the current layer or token..."), false);
  stop_->setEnabled(false);
}

QString BatchDialog::imagePathOf(const DatasetResultRow& row) const {
  const QString known = session_->imagePaths().value(row.id);
  if (!known.isEmpty()) return known;
  return cxr::assistant::resolveDatasetImage(loadedRun_, row.image);
}

void BatchDialog::onRowActivated(const QModelIndex& index) {
  if (!index.isValid()) return;
  const DatasetResultRow& row = results_->row(sorted_->mapToSource(index).row());
  if (row.failed) {
    showMessage(tr("%1 could not be read: %2").arg(row.image, row.reason), true);
    return;
  }
  const QString path = imagePathOf(row);
  if (!QFileInfo(path).isFile()) {
    showMessage(tr("%1: the image is no longer there.").arg(QDir::toNativeSeparators(path)), true);
    return;
  }
  Q_EMIT openResultRequested(row, path);
}

bool BatchDialog::evaluate() {
  if (evalThread_) return false;
  const QString out = out_->text().trimmed();
  if (out.isEmpty()) {
    showEvaluationMessage(tr("Choose the output folder of a run first."), true);
    return false;
  }
  const QString results = QDir(out).filePath(cxr::assistant::resultsFileName({}));
  if (!QFileInfo::exists(results)) {
    showEvaluationMessage(tr("%1 has no results.jsonl yet: run the batch first.").arg(QDir::toNativeSeparators(out)), true);
    return false;
  }
  if (labels_->text().trimmed().isEmpty()) {
    showEvaluationMessage(tr("Choose a labels CSV."), true);
    return false;
  }
  cxr::assistant::EvaluationOptions options;
  options.predictionsPath = results;
  options.labelsPath = QFileInfo(labels_->text().trimmed()).absoluteFilePath();
  options.task = evalTask_->currentText().trimmed().isEmpty() ? QStringLiteral("report") : evalTask_->currentText().trimmed();
  options.controlPath = evalControl_->text().trimmed();
  cxr::assistant::parseUncertainPolicy(uncertain_->currentText(), &options.policy);
  evalOut_ = QDir(QFileInfo(out).absoluteFilePath()).filePath(QStringLiteral("eval"));
  // The figures (bootstrap included) off the GUI thread; the files (fonts, the PDF) on it.
  evalResult_ = std::make_shared<cxr::assistant::Evaluation>();
  evalThread_ = QThread::create([options, result = evalResult_] { *result = cxr::assistant::evaluate(options); });
  connect(evalThread_, &QThread::finished, this, &BatchDialog::onEvaluationDone);
  showEvaluationMessage(tr("Evaluating..."), false);
  evalThread_->start();
  updateEnabled();
  return true;
}

void BatchDialog::onEvaluationDone() {
  evalThread_->deleteLater();
  evalThread_ = nullptr;
  updateEnabled();
  const cxr::assistant::Evaluation& ev = *evalResult_;
  if (!ev.ok()) {
    showEvaluationMessage(ev.error, true);
    Q_EMIT evaluationDone(false);
    return;
  }
  const QString error = cxr::assistant::writeEvaluationOutputs(ev, evalOut_);
  if (!error.isEmpty()) {
    showEvaluationMessage(error, true);
    Q_EMIT evaluationDone(false);
    return;
  }
  showEvaluationMessage(tr("%1 matched, %2 without a label, %3 labels without a prediction · macro F1 %4 · %5")
                            .arg(ev.metrics.matched)
                            .arg(ev.unmatchedPredictions)
                            .arg(ev.unmatchedLabels)
                            .arg(ev.metrics.macroF1, 0, 'f', 3)
                            .arg(QDir::toNativeSeparators(evalOut_)),
                        false);
  openUrl_(QUrl::fromLocalFile(QDir(evalOut_).filePath(QStringLiteral("report.html"))));
  Q_EMIT evaluationDone(true);
}

}  // namespace cxr::app
