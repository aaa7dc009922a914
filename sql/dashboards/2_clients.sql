/*---
title: "Clients & Fidélité"
slicers:
  - { attribute: Annee, label: Année }
  - { attribute: Mois, label: Mois }
  - { attribute: Nom_Canal, label: Canal }
  - { attribute: Code_Promo, label: Code promo }
  - { attribute: Categorie, label: Catégorie }
  - { attribute: Segment_RFM, label: Segment RFM }
visuals:
  - { name: kpis, title: Indicateurs clients, chart: cards }
  - { name: par_segment, title: CA et clients par segment RFM, chart: bar }
  - { name: par_region, title: CA par région, chart: bar }
  - { name: par_ville, title: CA par ville, chart: table }
  - { name: top_clients, title: Top 20 clients, chart: table }
  - { name: retention, title: Taux de rétention annuel, chart: bar }
---*/

-- name: kpis
SELECT MEASURE(Nb_Clients_Actifs), MEASURE(CA_Par_Client), MEASURE(Panier_Moyen) FROM omnimarket;

-- name: par_segment
SELECT Segment_RFM, CA_Total, Nb_Clients_Actifs, CA_Total / SUM(CA_Total) OVER () AS Part_CA
FROM (SELECT Segment_RFM, MEASURE(CA_Total) AS CA_Total, MEASURE(Nb_Clients_Actifs) AS Nb_Clients_Actifs FROM omnimarket GROUP BY Segment_RFM) AS s
ORDER BY CA_Total DESC;

-- name: par_region
SELECT Region, MEASURE(CA_Total) FROM omnimarket GROUP BY Region ORDER BY MEASURE(CA_Total) DESC;

-- name: par_ville
SELECT Region, Ville, MEASURE(CA_Total) FROM omnimarket GROUP BY Region, Ville ORDER BY MEASURE(CA_Total) DESC;

-- name: top_clients
SELECT Code_Client, Nom_Complet, Segment_RFM, MEASURE(CA_Total), MEASURE(Nb_Transactions)
FROM omnimarket GROUP BY Code_Client, Nom_Complet, Segment_RFM ORDER BY MEASURE(CA_Total) DESC LIMIT 20;

-- name: retention
SELECT Annee, MEASURE(Taux_Retention) FROM omnimarket GROUP BY Annee;
