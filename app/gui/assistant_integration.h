// Puts the assistant into the main window: the ChatPanel on the right of the splitter, the engine
// worker behind it, the history store, an Assistant menu, the model status in the status bar, the
// model folder setting, and the feed of what the model sees (the viewer's renderings of the image
// on screen). MainWindow itself stays viewer-only; this class is the seam between the two halves.
#pragma once

#include "cxr/assistant/chat_panel.h"
#include "cxr/assistant/engine_backend.h"
#include "cxr/assistant/engine_worker.h"
#include "cxr/assistant/history.h"
#include "cxr/assistant/history_browser.h"
#include "cxr/assistant/image_source.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

class QMenu;
#include <memory>
#include <optional>

class QAction;
class QLabel;

namespace cxr::app {

class BatchDialog;
class MainWindow;

class AssistantIntegration : public QObject {
  Q_OBJECT
 public:
  // `backend`: null for the real engine (createModelBackend()); tests pass a scripted one.
  // `historyPath`: empty for HistoryStore::defaultPath(). Parented to the window.
  AssistantIntegration(MainWindow& window, std::unique_ptr<cxr::assistant::EngineBackend> backend = nullptr,
                       const QString& historyPath = {});
  ~AssistantIntegration() override;  // the panel goes before the engine it uses

  // Loads the model in the background: $CXR_LLAVA_MODEL if set, else the folder saved in the
  // settings, else the Hugging Face cache (cxr::discoverModelFolder()). Without one the panel says
  // how to get the model. Returns false when no folder was found.
  bool loadModelAtStart();
  // Persists `folder` (QSettings "model/folder") and loads it.
  void useModelFolder(const QString& folder);
  // Loads `folder` without remembering it (cxr-assistant --model DIR).
  void loadModelForThisRun(const QString& folder);
  static QString savedModelFolder();

  cxr::assistant::ChatPanel* panel() const { return panel_; }
  cxr::assistant::AssistantEngine& engine() { return *engine_; }
  // What the panel was last handed (null image before any image is open).
  const cxr::assistant::ModelImageSource& imageSource() const { return source_; }
  QLabel* modelStatusLabel() const { return modelStatus_; }
  cxr::assistant::HistoryStore& history() { return *history_; }
  // The bar that says what is wrong with the history (hidden while it is healthy).
  cxr::assistant::HistoryBanner* historyBanner() const { return historyBanner_; }
  QAction* includeIdentifyingAction() const { return includeIdentifying_; }
  // File > Batch...: shows (creating it once) the dataset run dialog on this window's engine.
  BatchDialog* showBatchDialog();
  QAction* batchAction() const { return batchAction_; }

 Q_SIGNALS:
  void imageSourceChanged(const cxr::assistant::ModelImageSource& source);

 private:
  void createMenu();
  void createWeightsMenu(QMenu* menu);
  void feedImage(bool newFile);  // newFile: rehash the file
  void exportWithDialog(cxr::assistant::ExportFormat format, cxr::assistant::ExportDocument::Scope scope);
  void chooseModelFolder();

  MainWindow& window_;
  std::unique_ptr<cxr::assistant::HistoryStore> history_;
  QPointer<cxr::assistant::HistoryBanner> historyBanner_;
  std::unique_ptr<cxr::assistant::AssistantEngine> engine_;
  QPointer<cxr::assistant::ChatPanel> panel_;
  cxr::assistant::ModelImageSource source_;
  QString sha256_;
  const void* fedImage_ = nullptr;  // the image and frame source_ was made from
  int fedFrame_ = -1;
  QTimer windowDebounce_;  // a window drag re-renders the on-screen image once it pauses
  QLabel* modelStatus_ = nullptr;
  QAction* includeIdentifying_ = nullptr;
  QAction* batchAction_ = nullptr;
  QPointer<BatchDialog> batchDialog_;
  bool rememberLoadedFolder_ = true;  // false while a --model / $CXR_LLAVA_MODEL folder loads
};

}  // namespace cxr::app
