/*---
title: Performance Produits
slicers:
  - { attribute: Annee, label: Année }
  - { attribute: Mois, label: Mois }
  - { attribute: Nom_Canal, label: Canal }
  - { attribute: Code_Promo, label: Code promo }
  - { attribute: Categorie, label: Catégorie }
  - { attribute: Segment_RFM, label: Segment RFM }
visuals:
  - { name: kpis, title: Indicateurs produits, chart: cards }
  - { name: top_produits, title: Top 10 produits, chart: bar }
  - { name: par_categorie, title: CA par catégorie, chart: bar }
  - { name: matrice, title: CA et taux de marge par produit, chart: scatter, x_scale: log }
  - { name: abc, title: Analyse ABC (Pareto), chart: table }
  - { name: abc_classes, title: Produits par classe ABC, chart: bar }
---*/

-- name: kpis
SELECT MEASURE(Top_Produit_Nom), MEASURE(Nb_Produits_Vendus), MEASURE(Marge_Totale), MEASURE(CA_Moyen_Produit), MEASURE(Taux_Marge)
FROM omnimarket;

-- name: top_produits
SELECT Nom_Produit, MEASURE(CA_Total), MEASURE(Rank_Produit_CA)
FROM omnimarket GROUP BY Nom_Produit ORDER BY MEASURE(Rank_Produit_CA), Nom_Produit LIMIT 10;

-- name: par_categorie
SELECT Categorie, MEASURE(CA_Total), MEASURE(Taux_Marge) FROM omnimarket GROUP BY Categorie ORDER BY MEASURE(CA_Total) DESC;

-- name: matrice
SELECT Nom_Produit, Categorie, MEASURE(CA_Total), MEASURE(Taux_Marge) FROM omnimarket GROUP BY Nom_Produit, Categorie;

-- name: abc
SELECT Nom_Produit, MEASURE(CA_Total), MEASURE(Contribution_CA), MEASURE(Contribution_Cumul), MEASURE(Classe_ABC)
FROM omnimarket GROUP BY Nom_Produit ORDER BY MEASURE(Contribution_Cumul), Nom_Produit;

-- name: abc_classes
SELECT Classe_ABC, COUNT(*) AS Nb_Produits, SUM(CA_Total) AS CA_Total
FROM (SELECT Nom_Produit, MEASURE(Classe_ABC) AS Classe_ABC, MEASURE(CA_Total) AS CA_Total FROM omnimarket GROUP BY Nom_Produit) AS p
GROUP BY Classe_ABC ORDER BY Classe_ABC;
