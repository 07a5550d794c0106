#include "cxr/viewer/tag_browser.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QStandardItemModel>
#include <QTreeView>
#include <QVBoxLayout>

namespace cxr::viewer {

namespace {

const QString kHidden = QStringLiteral("(hidden: anonymised)");

void appendNodes(QStandardItem* parent, const std::vector<TagNode>& nodes, bool anonymised) {
  for (const TagNode& node : nodes) {
    QList<QStandardItem*> row;
    row << new QStandardItem(node.tag) << new QStandardItem(node.name) << new QStandardItem(node.vr)
        << new QStandardItem(anonymised && isIdentifyingTag(node) ? kHidden : node.value);
    for (QStandardItem* item : row)
      item->setEditable(false);
    row[TagColumnValue]->setToolTip(row[TagColumnValue]->text().left(2000));
    parent->appendRow(row);
    appendNodes(row[0], node.children, anonymised);
  }
}

int countRows(const QAbstractItemModel& model, const QModelIndex& parent) {
  int n = 0;
  for (int r = 0; r < model.rowCount(parent); ++r)
    n += 1 + countRows(model, model.index(r, 0, parent));
  return n;
}

}  // namespace

bool isIdentifyingTag(const TagNode& node) {
  const QString tag = node.tag.toUpper();
  // Person names and every date/time can identify a patient or a visit.
  if (node.vr == u"PN" || node.vr == u"DA" || node.vr == u"DT" || node.vr == u"TM")
    return true;
  // The whole Patient group (name, ID, birth date, sex, age, address, ...).
  if (tag.startsWith(u"(0010,"))
    return true;
  static const QStringList kIdentifying = {
      QStringLiteral("(0008,0050)"),  // AccessionNumber
      QStringLiteral("(0008,0080)"),  // InstitutionName
      QStringLiteral("(0008,0081)"),  // InstitutionAddress
      QStringLiteral("(0008,1010)"),  // StationName
      QStringLiteral("(0008,1040)"),  // InstitutionalDepartmentName
      QStringLiteral("(0008,0018)"),  // SOPInstanceUID
      QStringLiteral("(0002,0003)"),  // MediaStorageSOPInstanceUID
      QStringLiteral("(0020,000D)"),  // StudyInstanceUID
      QStringLiteral("(0020,000E)"),  // SeriesInstanceUID
      QStringLiteral("(0020,0010)"),  // StudyID
      QStringLiteral("(0018,1000)"),  // DeviceSerialNumber
      QStringLiteral("(0032,1032)"),  // RequestingPhysician
  };
  return kIdentifying.contains(tag);
}

std::unique_ptr<QStandardItemModel> buildTagModel(const std::vector<TagNode>& tags, bool anonymised) {
  auto model = std::make_unique<QStandardItemModel>();
  model->setHorizontalHeaderLabels({QObject::tr("Tag"), QObject::tr("Name"), QObject::tr("VR"),
                                    QObject::tr("Value")});
  appendNodes(model->invisibleRootItem(), tags, anonymised);
  return model;
}

TagFilterModel::TagFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
  setRecursiveFilteringEnabled(true);  // keeps the parents of matching rows
  setAutoAcceptChildRows(true);        // a matching sequence shows its items
  setFilterKeyColumn(-1);              // tag, name, VR and value all count
  setFilterCaseSensitivity(Qt::CaseInsensitive);
}

void TagFilterModel::setSearchText(const QString& text) {
  setFilterFixedString(text.trimmed());
}

TagBrowserDialog::TagBrowserDialog(const RadiographImage& image, bool anonymised, QWidget* parent)
    : QDialog(parent), model_(buildTagModel(image.tags, anonymised)) {
  setWindowTitle(tr("DICOM tags - %1").arg(anonymised ? tr("anonymised")
                                                      : image.path.section(u'/', -1)));
  resize(900, 650);
  filter_ = new TagFilterModel(this);
  filter_->setSourceModel(model_.get());

  search_ = new QLineEdit(this);
  search_->setObjectName(QStringLiteral("tagSearch"));
  search_->setPlaceholderText(tr("Search tag, name or value (e.g. 0028, Window, MONOCHROME)"));
  search_->setClearButtonEnabled(true);

  tree_ = new QTreeView(this);
  tree_->setModel(filter_);
  tree_->setUniformRowHeights(true);
  tree_->setAlternatingRowColors(true);
  tree_->header()->setSectionResizeMode(TagColumnValue, QHeaderView::Stretch);
  tree_->setColumnWidth(TagColumnTag, 110);
  tree_->setColumnWidth(TagColumnName, 260);
  tree_->setColumnWidth(TagColumnVr, 40);

  count_ = new QLabel(this);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto updateCount = [this] {
    count_->setText(tr("%1 of %2 elements shown")
                         .arg(countRows(*filter_, {}))
                         .arg(countRows(*model_, {})));
  };
  connect(search_, &QLineEdit::textChanged, this, [this, updateCount](const QString& text) {
    filter_->setSearchText(text);
    if (!text.trimmed().isEmpty())
      tree_->expandAll();
    updateCount();
  });

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(search_);
  layout->addWidget(tree_, 1);
  layout->addWidget(count_);
  layout->addWidget(buttons);
  if (image.tags.empty())
    count_->setText(tr("This file has no DICOM tags (%1).").arg(image.formatName));
  else
    updateCount();
}

TagBrowserDialog::~TagBrowserDialog() = default;

}  // namespace cxr::viewer
