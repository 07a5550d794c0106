# Owned by the preprocessing area: append its .cpp files to CXR_MODEL_SOURCES.
