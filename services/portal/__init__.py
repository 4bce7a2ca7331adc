"""The web portal: Russian pages for curators, municipalities, the region and auditors."""
