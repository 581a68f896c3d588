"""What the A/B benchmarks' child processes start with: the tree under test first on sys.path (argv[1]), the garbage
collector set as that tree's commands set it, that tree's own dictionary, and the pages of a folder (argv[2])
cleaned by that tree's clean step into `articles`."""

LOAD_ARTICLES = """
import sys
sys.path.insert(0, sys.argv[1])
try:  # the garbage collector as the tree's commands set it (a tree from before streams/collector.py: as it was)
    from streams.collector import set_thresholds
except ImportError:
    pass
else:
    set_thresholds()
from streams.inputs.paths import iter_documents
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import clean_step
limits = CleanLimits()
dictionary = ActorDictionary.load()  # the tree's own dictionary
articles = []
for doc in iter_documents([sys.argv[2]], max_bytes=limits.max_page_bytes):
    try:
        articles.append(clean_step(raw_page(doc), limits))
    except Rejected:
        pass
"""
