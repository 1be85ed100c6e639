"""The file name endings the one reader reads, by kind (the app and ``analyze`` ask here, never keep a copy)."""

from __future__ import annotations

#: Medical image formats read with SimpleITK (2-D or 2-D + time).
MEDICAL_SUFFIXES = (".mhd", ".mha", ".nii", ".nii.gz", ".nrrd")
#: Videos read with PyAV.
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm")
#: Still images read with Pillow.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: DICOM files (any file with the DICOM preamble is read as DICOM too).
DICOM_SUFFIXES = (".dcm", ".dicom")
#: Data files a MetaImage ``.mhd`` header may point to.
MHD_DATA_SUFFIXES = (".raw", ".zraw")
#: Formats that can hold a loop (several frames).
LOOP_SUFFIXES = DICOM_SUFFIXES + MEDICAL_SUFFIXES + VIDEO_SUFFIXES
#: Everything :func:`synthboost.data.imageio.echo.read_echo` reads.
READABLE_SUFFIXES = LOOP_SUFFIXES + IMAGE_SUFFIXES
