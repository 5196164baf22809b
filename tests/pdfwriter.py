"""Write a PDF file from its objects: the header, the numbered objects, the cross-reference table.

Readers' tests and the hostile-input corpus build their PDFs object by object (a
text layer, a password, a stream bomb); this is the part they share.
"""

__all__ = ["pdf_file"]


def pdf_file(objects: list[bytes]) -> bytes:
    """Objects numbered from 1 in order; object 1 must be the catalog."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)
