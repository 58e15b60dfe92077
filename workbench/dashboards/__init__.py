"""Dashboard components shared by the ipywidgets notebooks and the Panel app."""
