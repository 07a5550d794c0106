// The assistant half of the main window: model status and loading, what the model sees, sampling
// settings, the streamed conversation, the findings checklist, export and history.
//
// The panel shows a ChatSession (the conversation's state: transcript, history ids, image policy,
// regenerate / edit / continue) and forwards clicks to it; it owns the widgets only. The app owns
// the engine and the history store and puts the panel into its window with setAssistantPanel().
#pragma once

#include "cxr/assistant/chat_session.h"

#include <QRectF>
#include <QTextCursor>
#include <QTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFrame;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTextBrowser;
class QToolButton;
class QUrl;

namespace cxr::assistant {

class QuestionBox;

enum class ExportFormat { PlainText, Markdown, Pdf };

class ChatPanel : public QWidget {
  Q_OBJECT
 public:
  // history may be null (nothing is stored). Neither is owned.
  ChatPanel(AssistantEngine& engine, HistoryStore* history, QWidget* parent = nullptr);
  ~ChatPanel() override;

  // The image on screen. A new image starts a new conversation.
  void setImageSource(const ModelImageSource& source);
  void setImageChoice(ModelImageChoice choice);
  ModelImageChoice imageChoice() const;
  // "Prepare the model while I look at an image" (default on; saved with the settings): each image
  // sent to a loaded model is encoded and its prompts' shared prefix computed in the background
  // (AssistantEngine::prepare), so that the first answer on it starts within seconds.
  void setPrepareWhileLooking(bool on);
  bool prepareWhileLooking() const { return prepareWhileLooking_; }
  // The decoder's weights every load from this panel asks for (LoadSettings::weights: bf16, int8,
  // int4 or auto; the window's Assistant > Decoder Weights menu sets it).
  void setDecoderWeights(const QString& weights) { decoderWeights_ = weights; }
  const QString& decoderWeights() const { return decoderWeights_; }

  void loadModel(const QString& folder, const LoadSettings& settings = {});
  // $CXR_LLAVA_MODEL or the Hugging Face cache (like the command-line tool); false if none.
  bool loadDiscoveredModel(const LoadSettings& settings = {});

  SamplingSettings samplingSettings() const;
  void setSamplingSettings(const SamplingSettings& settings);
  void saveSettings() const;     // QSettings group "assistant"
  void restoreSettings();

  // Requests as the buttons make them (also for scripts and tests).
  void writeReport();
  void differentialDiagnosis();
  void askQuestion(const QString& question);
  void regenerateLast();
  void editLastQuestion();       // puts the last question into the box; the next send replaces it
  void newConversation();
  void stop();

  bool exportTo(const QString& path, ExportFormat format, ExportDocument::Scope scope, QString* error = nullptr) const;
  ExportDocument exportDocument(ExportDocument::Scope scope) const;
  void setIncludeIdentifyingInExports(bool include) { includeIdentifying_ = include; }

  // Shows a stored conversation (from the history browser) and lets the next question continue it:
  // the engine replays the stored turns (its image encoded again) before answering, and the new
  // turns are stored in the same history conversation. A conversation that cannot be continued
  // (one ending with an unanswered question) is shown read-only; the next question starts afresh.
  //
  // Ordering: give the panel the reopened image (setImageSource with the record's file) before
  // calling this, as the history browser's reopenImageRequested does. A source for the record's
  // image (same path or SHA-256) arriving after the call also works: it replaces the image without
  // wiping the restored conversation. Any other image starts a new conversation, as always.
  void restoreConversation(const ConversationRecord& record);
  void showHistory();

  ChatSession& session() const { return *session_; }
  const Transcript& transcript() const { return session_->transcript(); }
  QuestionBox* questionBox() const { return question_; }
  QString statusText() const;
  // The notice above the conversation while no model is loaded (the state, Choose model folder,
  // the loading progress). A window that shows the model in its status bar and a settings dialog
  // turns it off, so the conversation keeps the panel's height; statusText() still says it all.
  void setModelNoticeShown(bool shown);
  // The history store now writes another file (a new history after damage): the conversation on
  // screen is stored anew from its next turn, and the old file's row ids are forgotten.
  void forgetStoredIds();
  qint64 historyConversationId() const { return session_->historyConversationId(); }

 Q_SIGNALS:
  // The model's square crop in source-image pixels: the viewer outlines what is cut away.
  void cropRectChanged(const QRectF& rectInImage);
  void modelStatusChanged(const QString& text);
  // The history browser asked to reopen a conversation: the app opens the image file.
  void reopenImageRequested(const QString& imagePath);
  void answerFinished(const cxr::assistant::AnswerResult& result);

 private:
  void buildUi();
  void connectEngine();
  void updateEnabled();
  void render();             // the whole conversation (once per exchange, never per token)
  void updateStreamStats();  // elapsed time and tokens/s of the answer that streams
  void updateSamplingSummary();
  void copyLastAnswer() const;
  void renderFindings();
  void onAnchor(const QUrl& url);
  void connectSession();
  void onToken(const QString& chunk);
  void showUnshownChunks();  // appends the chunks streamed since the last update to the document
  void onAnswerFinished();
  void onPreview(const PreviewResult& preview);
  void submitQuestion(const QString& text);
  void showModelMissing();

  AssistantEngine& engine_;
  HistoryStore* history_;
  ChatSession* session_;  // a child
  QTimer ticker_;
  QTextCursor streamCursor_;  // the end of the streaming answer in the transcript
  QTimer streamFlush_;        // the next update of the streaming answer (see the constructor)
  QString unshownChunks_;     // streamed, not yet in the document
  bool includeIdentifying_ = false;
  bool prepareWhileLooking_ = true;
  bool modelNoticeShown_ = true;
  QString decoderWeights_ = LoadSettings{}.weights;

  QFrame* modelBox_ = nullptr;  // shown while no model is loaded (the status bar has the loaded one)
  QLabel* modelStatus_ = nullptr;
  QPushButton* chooseFolder_ = nullptr;
  QProgressBar* loadProgress_ = nullptr;
  QPushButton* cancelLoad_ = nullptr;
  QToolButton* inputToggle_ = nullptr;
  QLabel* thumbnail_ = nullptr;
  QComboBox* imageChoice_ = nullptr;
  QToolButton* samplingToggle_ = nullptr;
  QWidget* inputStrip_ = nullptr;
  QFrame* samplingRow_ = nullptr;
  QLabel* preview_ = nullptr;
  QLabel* cropInfo_ = nullptr;
  QCheckBox* deterministic_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QDoubleSpinBox* topP_ = nullptr;
  QSpinBox* topK_ = nullptr;
  QSpinBox* maxTokens_ = nullptr;
  QLineEdit* seed_ = nullptr;
  QTextBrowser* messages_ = nullptr;
  QToolButton* findingsToggle_ = nullptr;
  QTableWidget* findings_ = nullptr;
  QLabel* streamStats_ = nullptr;
  QLabel* phase_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* report_ = nullptr;
  QPushButton* differential_ = nullptr;
  QPushButton* stop_ = nullptr;
  QPushButton* regenerate_ = nullptr;
  QPushButton* edit_ = nullptr;
  QPushButton* newConversation_ = nullptr;
  QPushButton* export_ = nullptr;
  QPushButton* historyButton_ = nullptr;
  QuestionBox* question_ = nullptr;
  QPushButton* send_ = nullptr;
  QLabel* error_ = nullptr;
};

}  // namespace cxr::assistant
