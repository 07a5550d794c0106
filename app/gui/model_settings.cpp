#include "model_settings.h"

#include <algorithm>

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

namespace cxr::app {

namespace {

const QString kFolderKey = QStringLiteral("model/folder");
const QString kThreadsKey = QStringLiteral("model/threads");
const QString kPrefixCacheKey = QStringLiteral("model/prefixCacheImages");
const QString kPrepareKey = QStringLiteral("assistant/prepareWhileLooking");  // the panel's key before the dialog

// The saved whole number at `key` if it lies in lo..hi; else the default, and a sentence in `problems`.
int readInt(const QSettings& settings, const QString& key, int lo, int hi, int fallback, const QString& meaning,
            QStringList& problems) {
  const QVariant saved = settings.value(key);
  if (!saved.isValid()) return fallback;
  bool ok = false;
  const int value = saved.toString().trimmed().toInt(&ok);
  if (ok && value >= lo && value <= hi) return value;
  problems << QObject::tr("The saved setting %1 (\"%2\") is not a whole number from %3 to %4; using %5 (%6).")
                  .arg(key, saved.toString()).arg(lo).arg(hi).arg(fallback).arg(meaning);
  return fallback;
}

}  // namespace

int ModelSettings::maxThreads() { return std::max(1, QThread::idealThreadCount()); }

cxr::assistant::LoadSettings ModelSettings::loadSettings() const {
  cxr::assistant::LoadSettings s;
  s.threads = threads;
  s.prefixCacheImages = prefixCacheImages;
  return s;
}

bool ModelSettings::needsReload(const ModelSettings& before) const {
  return folder != before.folder || threads != before.threads;
}

ReadModelSettings readModelSettings(const QSettings& settings) {
  ReadModelSettings out;
  const ModelSettings defaults;
  ModelSettings& s = out.settings;
  s.folder = settings.value(kFolderKey).toString();
  s.threads = readInt(settings, kThreadsKey, 0, ModelSettings::maxThreads(), defaults.threads,
                      QObject::tr("one thread per physical core"), out.problems);
  s.prefixCacheImages = readInt(settings, kPrefixCacheKey, 0, cxr::LoadOptions::kMaxPrefixCacheImages,
                                defaults.prefixCacheImages, QObject::tr("the default"), out.problems);
  const QVariant prepare = settings.value(kPrepareKey);
  const QString prepareText = prepare.toString().trimmed().toLower();
  if (!prepare.isValid())
    s.prepareWhileLooking = defaults.prepareWhileLooking;
  else if (prepareText == QLatin1String("true") || prepareText == QLatin1String("1"))
    s.prepareWhileLooking = true;
  else if (prepareText == QLatin1String("false") || prepareText == QLatin1String("0"))
    s.prepareWhileLooking = false;
  else
    out.problems << QObject::tr("The saved setting %1 (\"%2\") is neither true nor false; using %3.")
                        .arg(kPrepareKey, prepare.toString(), defaults.prepareWhileLooking ? QStringLiteral("true") : QStringLiteral("false"));
  return out;
}

void writeModelSettings(QSettings& settings, const ModelSettings& model) {
  if (model.folder.isEmpty())
    settings.remove(kFolderKey);
  else
    settings.setValue(kFolderKey, model.folder);
  settings.setValue(kThreadsKey, model.threads);
  settings.setValue(kPrefixCacheKey, model.prefixCacheImages);
  settings.setValue(kPrepareKey, model.prepareWhileLooking);
}

// ---- The dialog ----------------------------------------------------------------------------------

ModelSettingsDialog::ModelSettingsDialog(const ModelSettings& current, const QString& modelState, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Model Settings"));
  setObjectName(QStringLiteral("modelSettingsDialog"));
  auto* layout = new QVBoxLayout(this);
  state_ = new QLabel(modelState, this);
  state_->setObjectName(QStringLiteral("modelState"));
  state_->setWordWrap(true);
  state_->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
  state_->setAccessibleName(tr("Model state"));
  layout->addWidget(state_);
  auto* form = new QFormLayout;
  buildForm(form);
  layout->addLayout(form);
  problem_ = new QLabel(this);
  problem_->setObjectName(QStringLiteral("problem"));
  problem_->setWordWrap(true);
  problem_->setStyleSheet(QStringLiteral("color: #b00020"));
  problem_->setAccessibleName(tr("Problem with the settings"));
  problem_->hide();
  layout->addWidget(problem_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel | QDialogButtonBox::RestoreDefaults, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this, [this] {
    ModelSettings defaults;
    defaults.folder = folder_->text();  // the folder has no default worth restoring to
    setSettings(defaults);
  });
  layout->addWidget(buttons);
  setSettings(current);
  folder_->setFocus();
}

void ModelSettingsDialog::buildForm(QFormLayout* form) {
  // One row per setting, each with a mnemonic label (its buddy takes the focus) and an accessible
  // name for screen readers. A new setting is one more row here.
  auto* folderRow = new QHBoxLayout;
  folder_ = new QLineEdit(this);
  folder_->setObjectName(QStringLiteral("modelFolder"));
  folder_->setPlaceholderText(tr("Found automatically ($CXR_LLAVA_MODEL or the Hugging Face cache)"));
  folder_->setAccessibleName(tr("Model folder"));
  folder_->setToolTip(tr("The CXR-LLaVA checkpoint folder: config.json, the *.safetensors weights, tokenizer.model"));
  auto* browse = new QPushButton(tr("&Browse…"), this);
  browse->setObjectName(QStringLiteral("browseModelFolder"));
  browse->setAccessibleName(tr("Choose the model folder"));
  connect(browse, &QPushButton::clicked, this, &ModelSettingsDialog::chooseFolder);
  folderRow->addWidget(folder_, 1);
  folderRow->addWidget(browse);
  auto* folderLabel = new QLabel(tr("Model &folder:"), this);
  folderLabel->setBuddy(folder_);
  form->addRow(folderLabel, folderRow);

  threads_ = new QSpinBox(this);
  threads_->setObjectName(QStringLiteral("threads"));
  threads_->setRange(0, ModelSettings::maxThreads());
  threads_->setSpecialValueText(tr("Automatic (one per physical core)"));
  threads_->setAccessibleName(tr("Threads"));
  threads_->setToolTip(tr("How many CPU threads the model computes with; changing it loads the model again"));
  form->addRow(tr("&Threads:"), threads_);

  prefixCache_ = new QSpinBox(this);
  prefixCache_->setObjectName(QStringLiteral("prefixCacheImages"));
  prefixCache_->setRange(0, cxr::LoadOptions::kMaxPrefixCacheImages);
  prefixCache_->setSpecialValueText(tr("Off"));
  prefixCache_->setSuffix(tr(" images"));
  prefixCache_->setAccessibleName(tr("Images whose prepared prompt is kept"));
  prefixCache_->setToolTip(tr("Going back to one of the last images answers sooner; each image kept costs "
                              "memory (about 0.5 GB for the 7B model in bf16)"));
  form->addRow(tr("&Keep prepared prompts for:"), prefixCache_);

  prepare_ = new QCheckBox(tr("&Prepare the model while I look at an image"), this);
  prepare_->setObjectName(QStringLiteral("prepareWhileLooking"));
  prepare_->setAccessibleName(tr("Prepare the model while I look at an image"));
  prepare_->setToolTip(tr("Read each opened image with the model in the background, so that its first "
                          "answer starts within seconds"));
  form->addRow(QString(), prepare_);
}

void ModelSettingsDialog::chooseFolder() {
  const QString folder = QFileDialog::getExistingDirectory(
      this, tr("Choose the CXR-LLaVA model folder (config.json, weights, tokenizer.model)"), folder_->text());
  if (!folder.isEmpty()) folder_->setText(QDir::toNativeSeparators(folder));
}

ModelSettings ModelSettingsDialog::settings() const {
  ModelSettings s;
  s.folder = QDir::fromNativeSeparators(folder_->text().trimmed());
  s.threads = threads_->value();
  s.prefixCacheImages = prefixCache_->value();
  s.prepareWhileLooking = prepare_->isChecked();
  return s;
}

void ModelSettingsDialog::setSettings(const ModelSettings& s) {
  folder_->setText(QDir::toNativeSeparators(s.folder));
  threads_->setValue(s.threads);
  prefixCache_->setValue(s.prefixCacheImages);
  prepare_->setChecked(s.prepareWhileLooking);
}

void ModelSettingsDialog::accept() {
  const QString folder = settings().folder;
  if (!folder.isEmpty() && !QFileInfo(folder).isDir()) {
    problem_->setText(tr("%1 is not a folder. Give the folder that holds config.json, the weights and "
                         "tokenizer.model, or leave it empty to find the model automatically.")
                          .arg(QDir::toNativeSeparators(folder)));
    problem_->show();
    folder_->setFocus();
    return;
  }
  QDialog::accept();
}

}  // namespace cxr::app
