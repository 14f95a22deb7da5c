"""expertalign: expert neurons of concepts in language models, and their alignment with humans."""

__version__ = "0.1.0"
