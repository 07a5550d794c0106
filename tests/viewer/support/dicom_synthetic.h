// Test helper: writes small DICOM files built in memory with DCMTK, so each pipeline rule can be
// tested on an image whose every value is known (the recipe is the test itself).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <dcmtk/dcmdata/dcvrus.h>

#include <QFile>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

namespace cxr::test {

struct SyntheticLut {
  int entries = 0;        // as written in the descriptor (0 means 65536)
  int firstMapped = 0;    // written as the 16-bit pattern (negative for signed input)
  int bits = 16;
  std::vector<quint16> data;
  QString explanation;
};

struct SyntheticDicom {
  int rows = 8, columns = 8, frames = 1, samples = 1;
  int bitsAllocated = 16, bitsStored = 16, highBit = -1;  // -1: bitsStored - 1
  bool isSigned = false;
  int planar = 0;
  QString photometric = QStringLiteral("MONOCHROME2");
  std::vector<quint16> words;  // raw 16-bit pixel data (bitsAllocated 16)
  std::vector<quint8> bytes;   // raw 8-bit pixel data (bitsAllocated 8)
  QStringList windowCenters, windowWidths, windowExplanations;
  QString voiFunction;
  std::optional<double> slope, intercept;
  QString presentationShape;
  std::optional<SyntheticLut> modalityLut;
  std::vector<SyntheticLut> voiLuts;
  QString pixelSpacing, imagerPixelSpacing;  // "0.2\\0.3"
  std::function<void(DcmDataset&)> extra;     // anything else a test wants in the data set
};

inline void putLut(DcmItem& item, const SyntheticLut& lut) {
  const Uint16 descriptor[3] = {quint16(lut.entries), quint16(lut.firstMapped), quint16(lut.bits)};
  item.putAndInsertUint16Array(DCM_LUTDescriptor, descriptor, 3);
  auto* data = new DcmOtherByteOtherWord(DcmTag(DCM_LUTData, EVR_OW));
  data->putUint16Array(lut.data.data(), static_cast<unsigned long>(lut.data.size()));
  item.insert(data, true);
  if (!lut.explanation.isEmpty()) item.putAndInsertString(DCM_LUTExplanation, lut.explanation.toUtf8().constData());
}

inline bool writeSyntheticDicom(const SyntheticDicom& s, const QString& path) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  char uid[100];
  ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds.putAndInsertString(DCM_Modality, "OT");
  ds.putAndInsertString(DCM_PatientName, "Synthetic^Test");
  ds.putAndInsertUint16(DCM_Rows, quint16(s.rows));
  ds.putAndInsertUint16(DCM_Columns, quint16(s.columns));
  ds.putAndInsertUint16(DCM_SamplesPerPixel, quint16(s.samples));
  if (s.samples > 1) ds.putAndInsertUint16(DCM_PlanarConfiguration, quint16(s.planar));
  if (s.frames > 1) ds.putAndInsertString(DCM_NumberOfFrames, QByteArray::number(s.frames).constData());
  ds.putAndInsertString(DCM_PhotometricInterpretation, s.photometric.toLatin1().constData());
  ds.putAndInsertUint16(DCM_BitsAllocated, quint16(s.bitsAllocated));
  ds.putAndInsertUint16(DCM_BitsStored, quint16(s.bitsStored));
  ds.putAndInsertUint16(DCM_HighBit, quint16(s.highBit >= 0 ? s.highBit : s.bitsStored - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, s.isSigned ? 1 : 0);
  if (!s.windowCenters.isEmpty()) {
    ds.putAndInsertString(DCM_WindowCenter, s.windowCenters.join(QLatin1Char('\\')).toLatin1().constData());
    ds.putAndInsertString(DCM_WindowWidth, s.windowWidths.join(QLatin1Char('\\')).toLatin1().constData());
  }
  if (!s.windowExplanations.isEmpty())
    ds.putAndInsertString(DCM_WindowCenterWidthExplanation, s.windowExplanations.join(QLatin1Char('\\')).toLatin1().constData());
  if (!s.voiFunction.isEmpty()) ds.putAndInsertString(DCM_VOILUTFunction, s.voiFunction.toLatin1().constData());
  if (s.slope) ds.putAndInsertString(DCM_RescaleSlope, QByteArray::number(*s.slope).constData());
  if (s.intercept) ds.putAndInsertString(DCM_RescaleIntercept, QByteArray::number(*s.intercept).constData());
  if (!s.presentationShape.isEmpty()) ds.putAndInsertString(DCM_PresentationLUTShape, s.presentationShape.toLatin1().constData());
  if (!s.pixelSpacing.isEmpty()) ds.putAndInsertString(DCM_PixelSpacing, s.pixelSpacing.toLatin1().constData());
  if (!s.imagerPixelSpacing.isEmpty()) ds.putAndInsertString(DCM_ImagerPixelSpacing, s.imagerPixelSpacing.toLatin1().constData());
  DcmItem* item = nullptr;
  if (s.modalityLut && ds.findOrCreateSequenceItem(DCM_ModalityLUTSequence, item, -2).good()) putLut(*item, *s.modalityLut);
  for (const SyntheticLut& lut : s.voiLuts)
    if (ds.findOrCreateSequenceItem(DCM_VOILUTSequence, item, -2).good()) putLut(*item, lut);
  if (s.extra) s.extra(ds);
  if (s.bitsAllocated == 8)
    ds.putAndInsertUint8Array(DCM_PixelData, s.bytes.data(), static_cast<unsigned long>(s.bytes.size()));
  else
    ds.putAndInsertUint16Array(DCM_PixelData, s.words.data(), static_cast<unsigned long>(s.words.size()));
  return file.saveFile(QFile::encodeName(path).constData(), EXS_LittleEndianExplicit).good();
}

}  // namespace cxr::test
