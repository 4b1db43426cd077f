"""The adapted Rand error as the ISBI 2012 and SNEMI3D challenges' evaluation code
defines it (Arganda-Carreras et al., "Crowdsourcing the creation of image segmentation
algorithms for connectomics", Front. Neuroanat. 2015; the challenge's MATLAB script as
ported to Python in gala's evaluate.adapted_rand), transcribed for segkit's tests: no
packaged library computes this definition (scikit-image's adapted_rand_error is a
different one: see segkit's eval/metrics.h).

The score is over the pixels of the true foreground (true label > 0). Unlike
scikit-image, a pixel the segmentation labels 0 (boundary) counts as a segment of its
own (a singleton), not as one big segment.
"""
import numpy as np
from scipy import sparse


def adapted_rand_error(segmentation, truth):
    seg = np.ravel(segmentation).astype(np.int64)
    gt = np.ravel(truth).astype(np.int64)
    n = gt.size
    # Joint counts p_ij: rows true labels, columns segment labels.
    p = sparse.csr_matrix((np.ones(n), (gt, seg)), shape=(gt.max() + 1, seg.max() + 1))
    a = p[1:, :]    # true foreground, any segment
    b = p[1:, 1:]   # true foreground in labelled segments
    c = p[1:, 0]    # true foreground on the segmentation's boundary: singletons
    singletons = c.sum() / n
    sum_a = np.square(np.asarray(a.sum(axis=1))).sum()
    sum_b = np.square(np.asarray(b.sum(axis=0))).sum() + singletons
    sum_ab = b.multiply(b).sum() + singletons
    precision, recall = sum_ab / sum_b, sum_ab / sum_a
    return 1.0 - 2.0 * precision * recall / (precision + recall)
