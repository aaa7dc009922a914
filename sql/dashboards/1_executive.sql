/*---
title: Vue Exécutive
slicers:
  - { attribute: Annee, label: Année }
  - { attribute: Mois, label: Mois }
  - { attribute: Nom_Canal, label: Canal }
  - { attribute: Code_Promo, label: Code promo }
  - { attribute: Categorie, label: Catégorie }
  - { attribute: Segment_RFM, label: Segment RFM }
visuals:
  - { name: kpis, title: Indicateurs clés, chart: cards }
  - { name: ca_par_canal, title: CA TTC par canal, chart: donut }
  - { name: ca_mensuel, title: CA TTC mensuel et moyenne mobile 3 mois, chart: line }
  - { name: evolution_annuelle, title: Évolution du CA sur un an, chart: bar }
---*/
-- The front matter above declares the page: its title, its slicers and, per visual, a title and a chart type (a
-- chart draws its first measure column; the others are in its data table). Each query below is one visual;
-- `-- name:` starts it. Every query runs as is with `omnimarket query`; the page's slicers add their conditions to
-- the WHERE of each semantic block (the filter context). See src/dashboards.rs for every key.

-- name: kpis
SELECT MEASURE(CA_HT), MEASURE(CA_Total), MEASURE(Marge_Totale), MEASURE(CA_YTD), MEASURE(Panier_Moyen), MEASURE(Nb_Clients_Actifs)
FROM omnimarket;

-- name: ca_par_canal
SELECT Nom_Canal, CA_Total, CA_Total / SUM(CA_Total) OVER () AS Part_CA
FROM (SELECT Nom_Canal, MEASURE(CA_Total) AS CA_Total FROM omnimarket GROUP BY Nom_Canal) AS c
ORDER BY CA_Total DESC;

-- name: ca_mensuel
SELECT Annee, Mois, MEASURE(CA_Total), MEASURE(CA_MA_3_Mois) FROM omnimarket GROUP BY Annee, Mois;

-- name: evolution_annuelle
SELECT Annee, MEASURE(Evolution_CA_YoY), MEASURE(CA_Total) FROM omnimarket GROUP BY Annee;
