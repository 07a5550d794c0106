#include "cxr/assistant/types.h"

#include "cxr/assistant/engine_backend.h"

#include <QCoreApplication>

namespace cxr::assistant {

SamplingSettings SamplingSettings::deterministic() {
  SamplingSettings s;
  s.temperature = 0.0;
  s.topP = 1.0;
  return s;
}

SamplingParams SamplingSettings::toEngine() const {
  SamplingParams p;
  p.temperature = float(temperature);
  p.topP = float(topP);
  p.topK = topK;
  p.maxNewTokens = maxNewTokens;
  if (seed) p.seed = uint64_t(*seed);
  return p;
}

QString SamplingSettings::describe() const {
  if (isGreedy())
    return QStringLiteral("greedy (deterministic), max new tokens %1").arg(maxNewTokens);
  return QStringLiteral("temperature %1, top-p %2, top-k %3, max new tokens %4")
      .arg(temperature)
      .arg(topP)
      .arg(topK)
      .arg(maxNewTokens);
}

LoadOptions LoadSettings::toEngine() const {
  LoadOptions o;
  o.device = device.toStdString();
  o.dtype = dtype.toStdString();
  o.threads = threads;
  o.prefixCacheImages = prefixCacheImages;
  o.weights = weights.toStdString();
  return o;
}

QString AnswerResult::stopReasonText() const { return QString::fromUtf8(stopReasonName(stopReason)); }

QString ModelSummary::statusText() const {
  const QString kind = info.kind == ModelKind::CxrLlava ? QStringLiteral("CXR-LLaVA")
                                                         : QStringLiteral("text-only LLaMA");
  const double gib = double(info.weightBytes) / (1024.0 * 1024.0 * 1024.0);
  const QString memory = gib >= 0.1 ? QStringLiteral("%1 GiB").arg(gib, 0, 'f', 1)
                                    : QStringLiteral("%1 MiB").arg(double(info.weightBytes) / (1024.0 * 1024.0), 0, 'f', 1);
  const QString resident = residentBytes > 0
      ? QStringLiteral(" · memory %1 GiB").arg(double(residentBytes) / (1024.0 * 1024.0 * 1024.0), 0, 'f', 2)
      : QString();
  QString decoderWeights = QStringLiteral("%1 weights").arg(QString::fromStdString(info.weights));
  if (!info.weightsReason.empty())
    decoderWeights += QStringLiteral(" (%1)").arg(QString::fromStdString(info.weightsReason));
  return QStringLiteral("%1 · %2 · %3 · %4 threads · %5 · weights %6%7 · %8")
      .arg(kind, QString::fromStdString(info.device), QString::fromStdString(info.dtype))
      .arg(info.threads)
      .arg(decoderWeights, memory, resident, QString::fromStdString(info.folder));
}

QString phaseName(Phase phase) {
  switch (phase) {
    case Phase::Preprocess: return QStringLiteral("Preparing image");
    case Phase::Vision: return QStringLiteral("Encoding image");
    case Phase::Prefill: return QStringLiteral("Reading prompt");
  }
  return {};
}

void registerAssistantMetaTypes() {
  qRegisterMetaType<SamplingSettings>();
  qRegisterMetaType<LoadSettings>();
  qRegisterMetaType<RequestKind>();
  qRegisterMetaType<AnswerResult>();
  qRegisterMetaType<ModelSummary>();
  qRegisterMetaType<PreviewResult>();
  qRegisterMetaType<cxr::ImageInput>();
  qRegisterMetaType<cxr::Phase>();
}

}  // namespace cxr::assistant
