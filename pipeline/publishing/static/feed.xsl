<?xml version="1.0" encoding="utf-8"?>
<!-- nlmg-media: shows feed.xml as a page when a person opens it in a browser (podcast apps ignore this file). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
                xmlns:atom="http://www.w3.org/2005/Atom"
                xmlns:podcast="https://podcastindex.org/namespace/1.0"
                exclude-result-prefixes="itunes atom podcast">
  <xsl:output method="html" encoding="utf-8" indent="no" doctype-system="about:legacy-compat"/>
  <xsl:template match="/rss/channel">
    <html lang="{language}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <title><xsl:value-of select="title"/> — podcast feed</title>
        <link rel="stylesheet" href="static/site.css"/>
        <link rel="icon" type="image/png" sizes="32x32" href="favicon.png"/>
      </head>
      <body>
        <main id="main" class="wrap">
          <header class="hero show-hero">
            <img class="art" src="art/cover-320.jpg" alt="" width="128" height="128"/>
            <div>
              <h1><xsl:value-of select="title"/></h1>
              <p class="by"><xsl:value-of select="itunes:author"/></p>
            </div>
          </header>
          <p class="note">This is the show's podcast feed, for podcast apps. To follow the show, copy this
            page's address into your app (Add by URL), or open
            <a href="{link}">the show's page</a> to listen here.</p>
          <code class="feed-url"><xsl:value-of select="atom:link[@rel='self']/@href"/></code>
          <p><xsl:value-of select="description"/></p>
          <h2>Episodes</h2>
          <ul class="episodes">
            <xsl:for-each select="item">
              <li>
                <div>
                  <a class="title" href="{link}"><xsl:value-of select="title"/></a>
                  <p class="meta">
                    <xsl:if test="itunes:episode">Episode <xsl:value-of select="itunes:episode"/> · </xsl:if>
                    <xsl:value-of select="substring(pubDate, 1, 16)"/> ·
                    <a href="{enclosure/@url}">MP3</a>
                  </p>
                </div>
              </li>
            </xsl:for-each>
          </ul>
        </main>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="/">
    <xsl:apply-templates select="rss/channel"/>
  </xsl:template>
</xsl:stylesheet>
