#include "image_budget.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include <optional>

namespace cxr::app {

namespace {

const QString kFrameKey = QStringLiteral("images/maxFrameMegapixels");
const QString kFileKey = QStringLiteral("images/maxFileMegapixels");

std::optional<ImageBudget>& sessionOverride() {
  static std::optional<ImageBudget> value;
  return value;
}

QString validate(const ImageBudget& budget) {
  cxr::viewer::LoadOptions scratch;
  return cxr::viewer::setPixelBudget(scratch, budget.frameMegapixels, budget.fileMegapixels);
}

}  // namespace

ImageBudget savedImageBudget() {
  const QSettings settings;
  ImageBudget budget;
  budget.frameMegapixels = settings.value(kFrameKey, budget.frameMegapixels).toDouble();
  budget.fileMegapixels = settings.value(kFileKey, budget.fileMegapixels).toDouble();
  return validate(budget).isEmpty() ? budget : ImageBudget{};
}

ImageBudget currentImageBudget() { return sessionOverride().value_or(savedImageBudget()); }

cxr::viewer::LoadOptions imageLoadOptions() {
  const ImageBudget budget = currentImageBudget();
  cxr::viewer::LoadOptions options;
  cxr::viewer::setPixelBudget(options, budget.frameMegapixels, budget.fileMegapixels);
  return options;
}

QString saveImageBudget(const ImageBudget& budget) {
  const QString problem = validate(budget);
  if (!problem.isEmpty()) return problem;
  QSettings settings;
  settings.setValue(kFrameKey, budget.frameMegapixels);
  settings.setValue(kFileKey, budget.fileMegapixels);
  settings.sync();
  if (settings.status() != QSettings::NoError)
    return QObject::tr("The limits could not be saved to %1.").arg(settings.fileName());
  return {};
}

QString overrideImageBudget(const ImageBudget& budget) {
  const QString problem = validate(budget);
  if (problem.isEmpty()) sessionOverride() = budget;
  return problem;
}

ImageBudgetDialog::ImageBudgetDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Image Size Limits"));
  auto* intro = new QLabel(
      tr("Files whose header claims a larger image are refused before decoding: a few kilobytes of "
         "compressed data can claim gigabytes of pixels. Raise the limits only for files you trust."),
      this);
  intro->setWordWrap(true);
  const ImageBudget budget = savedImageBudget();
  auto spin = [this](double value, double maximum, const QString& accessibleName) {
    auto* box = new QDoubleSpinBox(this);
    box->setRange(0.1, maximum);
    box->setDecimals(1);
    box->setSuffix(tr(" megapixels"));
    box->setValue(value);
    box->setAccessibleName(accessibleName);
    return box;
  };
  frame_ = spin(budget.frameMegapixels, cxr::viewer::kMaxFrameMegapixelsLimit, tr("Largest image per frame"));
  file_ = spin(budget.fileMegapixels, cxr::viewer::kMaxFileMegapixelsLimit, tr("Largest multi-frame file"));
  auto* form = new QFormLayout;
  form->addRow(tr("Largest image (one frame):"), frame_);
  form->addRow(tr("Largest multi-frame file (all frames):"), file_);
  problem_ = new QLabel(this);
  problem_->setWordWrap(true);
  problem_->setStyleSheet(QStringLiteral("color: #b00020"));
  problem_->hide();
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel | QDialogButtonBox::RestoreDefaults, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this, [this] {
    frame_->setValue(ImageBudget{}.frameMegapixels);
    file_->setValue(ImageBudget{}.fileMegapixels);
  });
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(intro);
  layout->addLayout(form);
  layout->addWidget(problem_);
  layout->addWidget(buttons);
}

void ImageBudgetDialog::accept() {
  const QString problem = saveImageBudget({frame_->value(), file_->value()});
  if (!problem.isEmpty()) {
    problem_->setText(problem);
    problem_->show();
    return;
  }
  QDialog::accept();
}

}  // namespace cxr::app
