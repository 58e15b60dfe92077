"""ERB-rate scale utilities (Glasberg & Moore 1990) and AMT's erbspace/erbspacebw."""
