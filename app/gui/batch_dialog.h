// File > Batch...: the window's face of `cxr-batch run` and `cxr-batch eval`. Choose a folder of
// images or a manifest CSV, the tasks, the output folder and the sampling; Start runs on the
// window's engine (DatasetRunSession: the model already loaded, off the GUI thread) with a progress
// bar, Stop and Start again continue through results.jsonl. The results table fills as results
// arrive, or from an output folder that already has them; a double-click asks the window to show
// the image and its answer. Evaluate scores results.jsonl against a labels CSV into OUT/eval and
// opens report.html.
#pragma once

#include "cxr/assistant/dataset_session.h"
#include "cxr/assistant/evaluation.h"

#include <QDialog>
#include <QJsonObject>
#include <QPointer>
#include <functional>
#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSortFilterProxyModel;
class QSpinBox;
class QTableView;
class QThread;
class QUrl;

namespace cxr::app {

class BatchDialog : public QDialog {
  Q_OBJECT
 public:
  BatchDialog(cxr::assistant::AssistantEngine& engine, QWidget* parent = nullptr);
  ~BatchDialog() override;  // stops a run; waits for an evaluation in progress

  // What the fields hold (also for scripts and tests).
  void setImagesFolder(const QString& folder);
  void setManifest(const QString& csv, const QString& imageRoot = {});
  void setTasks(bool report, bool differential, const QStringList& questions = {});
  void setSampling(quint64 seed, double temperature, double topP, int topK, int maxNewTokens);
  // Shows what the folder already holds (results.jsonl, errors.csv) and, when it holds a run, that
  // run's settings, so that Start continues it.
  void setOutputFolder(const QString& folder);
  void setEvaluation(const QString& labelsCsv, const QString& uncertain = QStringLiteral("negative"),
                     const QString& controlFolder = {});

  // Start / Stop as the buttons do. start() returns false with the reason shown in the dialog.
  bool start();
  void stop();
  bool isRunning() const { return session_->isRunning(); }
  // Evaluate as the button does: false (reason shown) when it cannot start; evaluationDone follows.
  bool evaluate();
  // How report.html is opened (QDesktopServices::openUrl by default; tests record it instead).
  void setUrlOpener(std::function<void(const QUrl&)> opener) { openUrl_ = std::move(opener); }

  QString message() const;            // the run's last message (errors, done, stopped)
  QString evaluationMessage() const;  // the evaluation's last message
  cxr::assistant::DatasetResultsModel* results() const { return results_; }
  QTableView* table() const { return table_; }
  cxr::assistant::DatasetRunSession* session() const { return session_; }
  // The image file of a table row (view order), as the run found it.
  QString imagePathOf(const cxr::assistant::DatasetResultRow& row) const;

 Q_SIGNALS:
  // Double-click on a result: show `imagePath` in the viewer and the row's question and answer.
  void openResultRequested(const cxr::assistant::DatasetResultRow& row, const QString& imagePath);
  void runFinished(const cxr::assistant::DatasetRunSummary& summary);
  void evaluationDone(bool ok);

 private:
  void buildUi();
  void updateEnabled();
  void showMessage(const QString& text, bool error);
  void showEvaluationMessage(const QString& text, bool error);
  bool collectSettings(cxr::assistant::DatasetRunSettings* settings, QString* error) const;
  void applyRunSettings(const QJsonObject& settings);
  void reloadRows();
  void onRowActivated(const QModelIndex& index);
  void onEvaluationDone();

  cxr::assistant::DatasetRunSession* session_ = nullptr;
  cxr::assistant::DatasetResultsModel* results_ = nullptr;
  QSortFilterProxyModel* sorted_ = nullptr;
  QJsonObject loadedRun_;  // run.json settings of the output folder, when it has one
  std::function<void(const QUrl&)> openUrl_;
  QThread* evalThread_ = nullptr;
  std::shared_ptr<cxr::assistant::Evaluation> evalResult_;
  QString evalOut_;

  QRadioButton* imagesKind_ = nullptr;
  QRadioButton* manifestKind_ = nullptr;
  QLineEdit* input_ = nullptr;
  QLineEdit* imageRoot_ = nullptr;
  QPushButton* imageRootBrowse_ = nullptr;
  QCheckBox* report_ = nullptr;
  QCheckBox* differential_ = nullptr;
  QPlainTextEdit* questions_ = nullptr;
  QCheckBox* control_ = nullptr;
  QLineEdit* out_ = nullptr;
  QLineEdit* seed_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QDoubleSpinBox* topP_ = nullptr;
  QSpinBox* topK_ = nullptr;
  QSpinBox* maxTokens_ = nullptr;
  QComboBox* window_ = nullptr;
  QPushButton* start_ = nullptr;
  QPushButton* stop_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* rate_ = nullptr;
  QLabel* message_ = nullptr;
  QLabel* notes_ = nullptr;
  QTableView* table_ = nullptr;
  QLineEdit* labels_ = nullptr;
  QComboBox* uncertain_ = nullptr;
  QLineEdit* evalControl_ = nullptr;
  QComboBox* evalTask_ = nullptr;
  QPushButton* evaluate_ = nullptr;
  QLabel* evalMessage_ = nullptr;
};

}  // namespace cxr::app
