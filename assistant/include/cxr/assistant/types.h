// Value types that cross from the worker thread to the GUI thread (queued signals), registered
// with Qt's meta-type system by registerAssistantMetaTypes().
#pragma once

#include "cxr/model/engine.h"

#include <QMetaType>
#include <QString>
#include <optional>

namespace cxr::assistant {

// Sampling settings as the user edits them. The reference defaults (spec section 6.1).
struct SamplingSettings {
  double temperature = 0.2;
  double topP = 0.8;
  int topK = 50;
  int maxNewTokens = 512;
  std::optional<quint64> seed;  // absent: the engine draws one and reports it

  static SamplingSettings deterministic();  // greedy: temperature 0 (the reference's rule <= 0.001)
  bool isGreedy() const { return temperature <= 0.001; }
  SamplingParams toEngine() const;
  QString describe() const;  // "temperature 0.2, top-p 0.8, top-k 50, max new tokens 512"
  friend bool operator==(const SamplingSettings&, const SamplingSettings&) = default;
};

struct LoadSettings {
  QString device = QStringLiteral("cpu");
  QString dtype = QStringLiteral("auto");
  int threads = 0;
  int prefixCacheImages = LoadOptions{}.prefixCacheImages;  // images whose shared prompt prefix is kept
  QString weights = QStringLiteral("auto");  // LoadOptions::weights: bf16, int8, int4 or auto
  LoadOptions toEngine() const;
};

// What kind of user turn a request is. The worker composes the exact message from it, because only
// the worker knows whether the conversation already has a turn (only the first carries <image>).
enum class RequestKind { Report, Differential, Question };

// The finished (or stopped) answer of one turn.
struct AnswerResult {
  RequestKind kind = RequestKind::Question;
  QString userMessage;      // exactly what was sent to the engine
  QString text;             // the whole answer (partial when stopped)
  quint64 seed = 0;
  SamplingSettings sampling;  // as used, seed filled in
  StopReason stopReason = StopReason::EndOfSequence;
  Timings timings;
  int promptIds = 0;        // ids of the whole conversation so far (-200 counted once)
  int cachedPositions = 0;  // KV cache positions after this turn
  QString stopReasonText() const;
};

struct ModelSummary {
  ModelInfo info;
  double loadSeconds = 0;
  qint64 residentBytes = 0;  // process resident memory right after loading (0: unknown)
  // "CXR-LLaVA · cpu · bf16 · 2 threads · bf16 weights · weights 13.5 GiB · memory 14.1 GiB · folder";
  // when "auto" chose int8 for lack of memory the weights part says why.
  QString statusText() const;
};

// The exact model input and where it sits in the image that was handed over.
struct PreviewResult {
  PreprocessInfo info;
  int sourceWidth = 0, sourceHeight = 0;
};

QString phaseName(Phase phase);
void registerAssistantMetaTypes();

}  // namespace cxr::assistant

Q_DECLARE_METATYPE(cxr::assistant::SamplingSettings)
Q_DECLARE_METATYPE(cxr::assistant::LoadSettings)
Q_DECLARE_METATYPE(cxr::assistant::RequestKind)
Q_DECLARE_METATYPE(cxr::assistant::AnswerResult)
Q_DECLARE_METATYPE(cxr::assistant::ModelSummary)
Q_DECLARE_METATYPE(cxr::assistant::PreviewResult)
Q_DECLARE_METATYPE(cxr::ImageInput)
Q_DECLARE_METATYPE(cxr::Phase)
