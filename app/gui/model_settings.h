// The model's settings as the window keeps them (QSettings), and Assistant > Model Settings…, the
// dialog that edits them. One struct, read and written in one place each: a new setting (the
// weights' precision, for one) is a field here, a key in readModelSettings/writeModelSettings and a
// row in ModelSettingsDialog::buildForm.
#pragma once

#include "cxr/assistant/types.h"

#include <QDialog>
#include <QString>
#include <QStringList>

class QCheckBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSettings;
class QSpinBox;

namespace cxr::app {

struct ModelSettings {
  // The engine refuses more threads than the machine has logical CPUs.
  static int maxThreads();

  QString folder;            // the checkpoint folder; empty: $CXR_LLAVA_MODEL, else the Hugging Face cache
  int threads = 0;           // the engine's intra-op threads; 0: one per physical core
  int prefixCacheImages = cxr::LoadOptions{}.prefixCacheImages;  // images whose prompt prefix is kept
  bool prepareWhileLooking = true;  // encode each image and its prompts' prefix in the background

  // What Model::load is given (the folder is passed apart).
  cxr::assistant::LoadSettings loadSettings() const;
  // Whether going from `before` to this needs the model loaded again (folder, threads).
  bool needsReload(const ModelSettings& before) const;
  friend bool operator==(const ModelSettings&, const ModelSettings&) = default;
};

struct ReadModelSettings {
  ModelSettings settings;
  // One sentence per saved value that was unusable and replaced by its default (a hand-edited or
  // damaged settings file), naming the key, the value and what is used instead.
  QStringList problems;
};

// The keys: model/folder, model/threads, model/prefixCacheImages, assistant/prepareWhileLooking.
ReadModelSettings readModelSettings(const QSettings& settings);
void writeModelSettings(QSettings& settings, const ModelSettings& model);

// Assistant > Model Settings…: the folder (typed or chosen), threads, prefix-cache images and
// "prepare while I look", with the loaded model's state on top. Every control has a mnemonic
// label and an accessible name; OK refuses a folder that does not exist, saying so in the dialog.
class ModelSettingsDialog : public QDialog {
  Q_OBJECT
 public:
  // `modelState`: the loaded model (or why none is), shown above the form.
  ModelSettingsDialog(const ModelSettings& current, const QString& modelState, QWidget* parent = nullptr);
  ModelSettings settings() const;
  void setSettings(const ModelSettings& settings);
  void accept() override;

 private:
  void buildForm(QFormLayout* form);
  void chooseFolder();

  QLabel* state_ = nullptr;
  QLineEdit* folder_ = nullptr;
  QSpinBox* threads_ = nullptr;
  QSpinBox* prefixCache_ = nullptr;
  QCheckBox* prepare_ = nullptr;
  QLabel* problem_ = nullptr;
};

}  // namespace cxr::app
