"""Publishing: render folders become a podcast feed and a static site, copied or uploaded to where they live, or
served locally."""
