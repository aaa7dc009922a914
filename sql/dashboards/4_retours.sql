/*---
title: "Retours & Logistique"
slicers:
  - { attribute: Annee, label: Année }
  - { attribute: Mois, label: Mois }
  - { attribute: Nom_Canal, label: Canal }
  - { attribute: Code_Promo, label: Code promo }
  - { attribute: Categorie, label: Catégorie }
  - { attribute: Segment_RFM, label: Segment RFM }
visuals:
  - { name: kpis, title: Indicateurs retours, chart: cards }
  - { name: par_motif, title: Retours par motif, chart: donut }
  - { name: mensuel, title: Retours par mois, chart: line }
  - { name: par_produit, title: Montant remboursé par produit (top 15), chart: bar }
  - { name: par_produit_motif, title: Montant remboursé par produit et motif (top 20), chart: table }
  - { name: par_transporteur, title: Retours par transporteur, chart: bar }
---*/

-- name: kpis
SELECT MEASURE(Nb_Retours), MEASURE(Taux_Retour), MEASURE(Indice_Qualite_Logistique), MEASURE(Montant_Retours) FROM omnimarket;

-- name: par_motif
SELECT Motif, Nb_Retours, CAST(Nb_Retours AS DOUBLE) / SUM(Nb_Retours) OVER () AS Part_Retours
FROM (SELECT Motif, MEASURE(Nb_Retours) AS Nb_Retours FROM omnimarket GROUP BY Motif) AS m
ORDER BY Nb_Retours DESC;

-- name: mensuel
SELECT Annee, Mois, MEASURE(Nb_Retours) FROM omnimarket GROUP BY Annee, Mois;

-- name: par_produit
SELECT Nom_Produit, MEASURE(Montant_Retours) FROM omnimarket GROUP BY Nom_Produit ORDER BY MEASURE(Montant_Retours) DESC LIMIT 15;

-- name: par_produit_motif
SELECT Nom_Produit, Motif, MEASURE(Montant_Retours) FROM omnimarket GROUP BY Nom_Produit, Motif ORDER BY MEASURE(Montant_Retours) DESC LIMIT 20;

-- name: par_transporteur
SELECT Transporteur, MEASURE(Nb_Retours), MEASURE(Taux_Retour), MEASURE(Montant_Retours) FROM omnimarket GROUP BY Transporteur;
